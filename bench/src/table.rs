//! The results table: one row per figure, beside the ceiling and the target it is held to.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// No target, or not this backend's.
    None,
}

pub struct Row {
    measure: String,
    result: String,
    ceiling: String,
    ratio: String,
    target: String,
    verdict: Verdict,
}

impl Row {
    pub fn new(measure: impl Into<String>, result: impl Into<String>) -> Self {
        Self {
            measure: measure.into(),
            result: result.into(),
            ceiling: String::new(),
            ratio: String::new(),
            target: String::new(),
            verdict: Verdict::None,
        }
    }

    /// A step that could not be measured, and why.
    pub fn failed(measure: impl Into<String>, error: &dyn std::fmt::Display) -> Self {
        Self::new(measure, format!("TBD (failed: {error})"))
    }

    pub fn ceiling(mut self, ceiling: impl Into<String>, ratio: impl Into<String>) -> Self {
        self.ceiling = ceiling.into();
        self.ratio = ratio.into();
        self
    }

    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.verdict = if met { Verdict::Met } else { Verdict::Missed };
        self
    }

    pub fn missed(&self) -> bool {
        self.verdict == Verdict::Missed
    }
}

pub struct Table {
    pub title: String,
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        out.push_str(
            "\n| Measure | Fältlogg | Bare-INSERT ceiling | Ratio | Target | Met |\n\
             |---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let met = match row.verdict {
                Verdict::Met => "yes",
                Verdict::Missed => "**no**",
                Verdict::None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {met} |",
                cell(&row.measure),
                cell(&row.result),
                cell(&row.ceiling),
                cell(&row.ratio),
                cell(&row.target),
            );
        }
        out
    }
}

/// A table cell holds one line and no column separator.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
