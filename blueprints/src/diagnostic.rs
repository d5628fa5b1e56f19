use std::fmt;
use std::path::PathBuf;

use crate::yaml::Pos;

/// One problem in a blueprint, located and with a hint, printed like a compiler error:
///
/// ```text
/// error: node_pools[0].min (3) is greater than max (2)
///   --> hoist.yaml:12:10
///    |
/// 12 |     min: 3
///    |          ^
///    = hint: set min <= desired <= max
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the offending line, for the caret display.
    pub line_text: String,
}

impl Diagnostic {
    pub fn new(
        file: &std::path::Path,
        source: &str,
        pos: Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let line_text = source
            .lines()
            .nth(pos.line.saturating_sub(1))
            .unwrap_or("")
            .to_string();
        Self {
            file: file.to_path_buf(),
            pos,
            message: message.into(),
            hint,
            line_text,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = self.pos.line.to_string();
        let pad = " ".repeat(num.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.file.display(),
            self.pos.line,
            self.pos.col
        )?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{num} | {}", self.line_text)?;
        let caret_indent: String = self
            .line_text
            .chars()
            .take(self.pos.col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {caret_indent}^")?;
        if let Some(h) = &self.hint {
            write!(f, "\n{pad} = hint: {h}")?;
        }
        Ok(())
    }
}

/// Suggest the closest of `candidates` to a misspelt `word`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
