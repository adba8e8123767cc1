//! The typed errors every layer may return, at the bottom of the crate so that library
//! code never depends on the command layer. [`crate::commands`] alone turns them into
//! exit codes and messages.

/// An error in what the user asked for (bad flags, a bad sweep file, impossible values):
/// the command exits with code 2, and nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum BadInput {
    /// A one-line message (`--jobs must be at least 1`); shown after `error: `.
    #[error("{0}")]
    Message(String),
    /// A complete diagnostic that carries its own `error:` line, a location and help
    /// lines (a sweep file's error, a command's multi-line explanation); shown as
    /// it is.
    #[error("{0}")]
    Diagnostic(String),
}

impl BadInput {
    /// The text to show the user: [`BadInput::Message`] after `error: `, a
    /// [`BadInput::Diagnostic`] as it is.
    pub fn diagnostic(&self) -> String {
        match self {
            BadInput::Message(m) => format!("error: {m}"),
            BadInput::Diagnostic(d) => d.clone(),
        }
    }
}

/// Shorthand: a [`BadInput::Message`] as an `anyhow::Error`.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    BadInput::Message(msg.into()).into()
}

/// Shorthand: a [`BadInput::Diagnostic`] (a text that starts with its own `error:` line)
/// as an `anyhow::Error`.
pub fn bad_diagnostic(text: impl Into<String>) -> anyhow::Error {
    BadInput::Diagnostic(text.into()).into()
}
