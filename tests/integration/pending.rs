//! Pending scripts (W2) retried by the batch that exports what they wait for, with L6's
//! waking: a pending script woken while the retry runs joins it.

use relive::{Outcome, Reloader};

use crate::util::{ScriptDir, eval, python_lock};

const MID_TESTED: &str = "from game import LATER\nMID = LATER * 10\n\nimport unittest\n\nclass T(unittest.TestCase):\n    def test_mid(self):\n        self.assertEqual(MID, 20)\n";

fn load(dir: &ScriptDir) -> Reloader {
    dir.write("a.py", "A = 1\n");
    let mut reloader = Reloader::builder().build().expect("reloader");
    let report = reloader.add_directory("game", dir.path()).expect("load");
    assert_eq!(report.outcome, Outcome::Loaded, "{report}");
    reloader
}

fn outcome(reloader: &mut Reloader, dir: &ScriptDir, path: &str, text: &str) -> Outcome {
    let file = dir.write(path, text);
    reloader.reload(&file).expect("reload").outcome
}

#[test]
fn w2_a_chain_of_pending_scripts_loads_with_the_name_it_waited_for_whatever_their_path_order() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let mut reloader = load(&dir);
    // b_user sorts before c_mid, whose export it waits for.
    let user = "from game import MID\nUSER = MID + 1\n";
    assert_eq!(outcome(&mut reloader, &dir, "b_user.py", user), Outcome::Pending);
    let mid = "from game import LATER\nMID = LATER * 10\n";
    assert_eq!(outcome(&mut reloader, &dir, "c_mid.py", mid), Outcome::Pending);
    let later = dir.write("later.py", "LATER = 2\n");
    let reports = reloader.reload_batch([&later]).unwrap();
    let outcomes: Vec<(String, Outcome)> = reports.iter().map(|r| (r.path.to_string(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("b_user.py".into(), Outcome::Loaded),
            ("c_mid.py".into(), Outcome::Loaded),
            ("later.py".into(), Outcome::Loaded)
        ]
    );
    assert_eq!(eval::<i64>("sys.modules['game'].USER"), 21);
    assert!(reloader.pending().is_empty());
}

#[test]
fn w2_a_pending_script_rejected_with_the_one_it_waited_for_still_waits_for_its_name() {
    let _py = python_lock();
    let dir = ScriptDir::new();
    let mut reloader = load(&dir);
    let user = "from game import MID\nUSER = MID + 1\n";
    assert_eq!(outcome(&mut reloader, &dir, "b_user.py", user), Outcome::Pending);
    assert_eq!(outcome(&mut reloader, &dir, "c_mid.py", MID_TESTED), Outcome::Pending);
    // LATER = 1 wakes c_mid, whose test then fails (MID is 10): neither loads.
    let later = dir.write("later.py", "LATER = 1\n");
    let reports = reloader.reload_batch([&later]).unwrap();
    let outcomes: Vec<(String, Outcome)> = reports.iter().map(|r| (r.path.to_string(), r.outcome)).collect();
    assert_eq!(outcomes, [("later.py".into(), Outcome::Loaded)]);
    assert_eq!(reloader.pending().len(), 2);
    assert!(eval::<bool>(
        "not hasattr(sys.modules['game'], 'MID') and not hasattr(sys.modules['game'], 'USER')"
    ));
    // c_mid fixed: b_user still waits for MID, so it loads with it.
    let fixed = MID_TESTED.replace("LATER * 10", "LATER * 20");
    let file = dir.write("c_mid.py", &fixed);
    let reports = reloader.reload_batch([&file]).unwrap();
    let outcomes: Vec<(String, Outcome)> = reports.iter().map(|r| (r.path.to_string(), r.outcome)).collect();
    assert_eq!(outcomes, [("b_user.py".into(), Outcome::Loaded), ("c_mid.py".into(), Outcome::Loaded)]);
    assert_eq!(eval::<i64>("sys.modules['game'].USER"), 21);
}
