//! Where a script's top-level statements start, from its text alone (issue 17): a reload
//! parses and compiles only the statements whose text changed (`source.py`).
//!
//! A cheap lexer, not a parser: it skips strings and comments, counts brackets, follows
//! backslash continuations, and reports each line at column 0 that starts a statement. It
//! may see fewer starts than there are (two statements then compile together, which only
//! costs time), and `source.py` makes a wrong start harmless: every piece must parse on its
//! own, else the whole text is parsed as one, as a fresh load would.

/// The start of one piece of a script: a top-level statement, with the decorators before
/// it and the comments and blank lines after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    /// Its first line, counted from 1.
    pub(crate) line: u32,
    /// Its offset in characters (what Python's `str` indexes by).
    pub(crate) offset: usize,
}

/// Keywords that continue the statement before them at column 0.
const CONTINUATIONS: [&str; 4] = ["else", "elif", "except", "finally"];

/// The starts of `text`'s pieces, in order; the first is always line 1, offset 0.
pub(crate) fn statement_starts(text: &str) -> Vec<Start> {
    let bytes = text.as_bytes();
    let mut starts = vec![Start { line: 1, offset: 0 }];
    let (mut line, mut depth, mut i) = (1u32, 0u32, 0usize);
    let (mut counted_bytes, mut counted_chars) = (0usize, 0usize);
    let mut line_start = true;
    let mut seen_statement = false;
    let mut after_decorator = false;
    while i < bytes.len() {
        if std::mem::take(&mut line_start) && depth == 0 && starts_statement(&text[i..]) {
            if seen_statement && !after_decorator {
                counted_chars += text[counted_bytes..i].chars().count();
                counted_bytes = i;
                starts.push(Start { line, offset: counted_chars });
            }
            seen_statement = true;
            after_decorator = bytes[i] == b'@';
        }
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && newline_len(bytes, i) == 0 {
                    i += 1;
                }
                continue;
            }
            b'\\' => {
                let after = newline_len(bytes, i + 1);
                if after > 0 {
                    line += 1;
                }
                i += 1 + after.max(1);
                continue;
            }
            b'\'' | b'"' => {
                i = skip_string(bytes, i, &mut line);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let newline = newline_len(bytes, i);
        if newline > 0 {
            line += 1;
            line_start = true;
            i += newline;
        } else {
            i += 1;
        }
    }
    starts
}

/// The length of the line break at `i` (`\n`, `\r\n` or `\r`), or 0.
fn newline_len(bytes: &[u8], i: usize) -> usize {
    match (bytes.get(i), bytes.get(i + 1)) {
        (Some(b'\r'), Some(b'\n')) => 2,
        (Some(b'\n' | b'\r'), _) => 1,
        _ => 0,
    }
}

/// The index after the string literal whose opening quote is at `i`; an unterminated
/// single-quoted string ends at its line's end (the piece will not parse). Counts the
/// line breaks inside it.
fn skip_string(bytes: &[u8], i: usize, line: &mut u32) -> usize {
    let quote = bytes[i];
    let triple = bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < bytes.len() {
        let newline = newline_len(bytes, j);
        if bytes[j] == b'\\' {
            let escaped = newline_len(bytes, j + 1);
            if escaped > 0 {
                *line += 1;
            }
            j += 1 + escaped.max(1);
        } else if bytes[j] == quote && (!triple || bytes[j..].starts_with(&[quote, quote, quote])) {
            return j + if triple { 3 } else { 1 };
        } else if newline > 0 {
            if !triple {
                return j;
            }
            *line += 1;
            j += newline;
        } else {
            j += 1;
        }
    }
    bytes.len()
}

/// Whether a line at column 0, outside any string or bracket (`rest` starts with it),
/// starts a statement: not blank, not a comment, not indented, not `else:` and the like.
fn starts_statement(rest: &str) -> bool {
    let first = rest.chars().next().unwrap_or(' ');
    if first.is_whitespace() || first == '#' || first == '\\' {
        return false;
    }
    !CONTINUATIONS.iter().any(|keyword| {
        rest.strip_prefix(keyword)
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<u32> {
        statement_starts(text).iter().map(|s| s.line).collect()
    }

    #[test]
    fn each_top_level_statement_starts_a_piece() {
        let text = "# header\n\nimport os\nx = 1\n\ndef f():\n    return 1\n\n# tail\nclass K:\n    pass\n";
        assert_eq!(lines(text), [1, 4, 6, 10]);
    }

    #[test]
    fn decorators_else_and_continuations_stay_with_their_statement() {
        let text = "@a\n@b(1,\n2)\ndef f():\n    pass\nif x:\n    pass\nelse:\n    pass\ntry:\n    pass\nexcept E:\n    pass\nfinally:\n    pass\ny = 1 + \\\n2\nelsewhere = 3\n";
        assert_eq!(lines(text), [1, 6, 10, 16, 18]);
    }

    #[test]
    fn strings_and_brackets_hide_column_zero_lines() {
        let text = "DOC = \"\"\"\nx = 1\n\"\"\"\nT = (\n1,\n)\nS = 'a\\\nb'\nz = '''it''s'''\nw = 2\n";
        assert_eq!(lines(text), [1, 4, 7, 9, 10]);
    }

    #[test]
    fn offsets_count_characters_and_crlf_is_one_line_break() {
        let text = "é = 1\r\nπ = 2\r\n";
        let starts = statement_starts(text);
        assert_eq!(starts, [Start { line: 1, offset: 0 }, Start { line: 2, offset: 7 }]);
        assert_eq!(text.chars().skip(7).collect::<String>(), "π = 2\r\n");
    }

    #[test]
    fn a_comment_hides_quotes_and_brackets() {
        assert_eq!(lines("x = 1  # it's (\ny = 2\n"), [1, 2]);
    }
}

#[cfg(test)]
mod corpus {
    use pyo3::prelude::*;

    /// The first line of every top-level statement (decorators included) of the standard
    /// library's modules, by `ast`, against what the lexer saw: a start the lexer reports
    /// must be a real one; a start it misses only joins two statements.
    #[test]
    fn the_standard_library_splits_where_ast_does() {
        crate::python::attach(|py| {
            let probe = c"
import ast, pathlib, sysconfig, warnings
def files():
    root = pathlib.Path(sysconfig.get_paths()['stdlib'])
    tricky = ['test_grammar', 'test_fstring', 'test_string_literals', 'test_syntax', 'test_tokenize']
    return sorted(root.glob('*.py')) + [root / 'test' / f'{name}.py' for name in tricky]
def starts(text):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        tree = ast.parse(text)
    lines = sorted({min([s.lineno] + [d.lineno for d in getattr(s, 'decorator_list', [])]) for s in tree.body})
    return [1] + lines[1:]
";
            let helper = PyModule::from_code(py, probe, c"corpus.py", c"_relive_split_corpus").unwrap();
            let files: Vec<std::path::PathBuf> = helper.call_method0("files").unwrap().extract().unwrap();
            assert!(files.len() > 100, "the standard library has modules: {}", files.len());
            let (mut statements, mut missed) = (0, 0);
            for file in files {
                let Ok(text) = std::fs::read_to_string(&file) else { continue };
                let Ok(expected) = helper.call_method1("starts", (&text,)) else { continue };
                let expected: Vec<u32> = expected.extract().unwrap();
                let found: Vec<u32> = super::statement_starts(&text).iter().map(|s| s.line).collect();
                let wrong: Vec<&u32> = found.iter().filter(|l| !expected.contains(l)).collect();
                assert!(wrong.is_empty(), "{}: lines {wrong:?} do not start statements", file.display());
                statements += expected.len();
                missed += expected.len() - found.len();
            }
            assert!(missed * 1000 < statements, "{missed} of {statements} statement starts missed");
        });
    }
}
