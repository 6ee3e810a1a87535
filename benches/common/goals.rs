//! Issue 17's goals, printed by every bench as `met` / `not met` next to the measured ratio.
//! Every ratio compares two figures measured in the same run (never a stored baseline).

#![allow(dead_code)] // each bench uses only some of these
/// One goal: a measured value against its limit (at most `limit`).
pub struct Goal {
    pub name: String,
    pub value: f64,
    pub limit: f64,
    pub unit: &'static str,
}

impl Goal {
    /// A ratio goal: `value` must be at most `limit` (a multiple of a baseline of this run).
    pub fn ratio(name: impl Into<String>, value: f64, limit: f64) -> Goal {
        Goal { name: name.into(), value, limit, unit: "x" }
    }

    /// A goal in milliseconds (e.g. a latency against a bound computed in this run).
    pub fn ms(name: impl Into<String>, value: f64, limit: f64) -> Goal {
        Goal { name: name.into(), value, limit, unit: " ms" }
    }

    pub fn met(&self) -> bool {
        self.value <= self.limit
    }
}

/// Prints the goals, one a line: `goal: NAME: VALUE (at most LIMIT): met`.
pub fn print(goals: &[Goal]) {
    println!();
    for goal in goals {
        println!(
            "goal: {}: {:.2}{} (at most {:.2}{}): {}",
            goal.name,
            goal.value,
            goal.unit,
            goal.limit,
            goal.unit,
            if goal.met() { "met" } else { "not met" }
        );
    }
}
