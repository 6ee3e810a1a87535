//! One benchmark figure: the median, spread and maximum of a set of timed runs, in
//! milliseconds, as the benches print it and write it to JSON.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub median_ms: f64,
    pub min_ms: f64,
    pub p90_ms: f64,
    pub max_ms: f64,
}

/// The figure of `samples` (at least one), named `name`.
pub fn figure(name: &str, mut samples: Vec<Duration>) -> Figure {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p90 = samples[(samples.len() * 9 / 10).min(samples.len() - 1)];
    Figure {
        name: name.into(),
        median_ms: ms(samples[samples.len() / 2]),
        min_ms: ms(samples[0]),
        p90_ms: ms(p90),
        max_ms: ms(*samples.last().expect("samples")),
    }
}

/// Prints `figures` as a table: name, median, min, p90 and max, over `runs` runs.
pub fn print_table(figures: &[Figure], runs: usize) {
    let header = format!("figure (ms, {runs} runs)");
    println!("{header:<66} {:>9} {:>9} {:>9} {:>9}", "median", "min", "p90", "max");
    for f in figures {
        println!("{:<66} {:>9.2} {:>9.2} {:>9.2} {:>9.2}", f.name, f.median_ms, f.min_ms, f.p90_ms, f.max_ms);
    }
}
