//! How a command fails; each way maps to one documented [`Exit`].

use crate::cli::exit::Exit;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
    #[error("timed out")]
    Timeout,
    /// stdout was closed by its reader: not an error.
    #[error("broken pipe")]
    BrokenPipe,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Self::Auth(_) => Exit::Auth,
            Self::NotFound(_) | Self::Other(_) => Exit::Error,
            Self::Usage(_) => Exit::Usage,
            Self::Timeout => Exit::Timeout,
            Self::BrokenPipe => Exit::Ok,
        }
    }
}
