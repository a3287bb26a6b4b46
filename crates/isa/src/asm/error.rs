//! The assembler's error: where in the source, and what is wrong.

use thiserror::Error;

/// An assembly error at a line and column of the source (both 1-based;
/// the column counts characters).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {message}")]
pub struct AsmError {
    /// The 1-based line number.
    pub line: usize,
    /// The 1-based column (in characters) where the fault starts.
    pub column: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl AsmError {
    /// An error at `line`, `column`.
    pub(crate) fn new(line: usize, column: usize, message: impl Into<String>) -> AsmError {
        AsmError {
            line,
            column,
            message: message.into(),
        }
    }

    /// The error followed by the offending source line and a caret under
    /// the column, for showing to a person.
    pub fn render(&self, src: &str) -> String {
        let text = src.lines().nth(self.line.saturating_sub(1)).unwrap_or("");
        // Tabs keep their width so that the caret lines up in a terminal.
        let pad: String = text
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{self}\n  {text}\n  {pad}^")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_render() {
        let e = AsmError::new(2, 5, "unknown register r11");
        assert_eq!(e.to_string(), "line 2, column 5: unknown register r11");
        assert_eq!(
            e.render("exit\nr0 = r11\n"),
            "line 2, column 5: unknown register r11\n  r0 = r11\n      ^"
        );
    }
}
