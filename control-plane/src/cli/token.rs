//! The public API token: from `--token-file` (a file, or `-` for stdin) or `AGENTCTL_TOKEN`, never from a flag
//! (flags end up in `ps` and shell history).

use std::io::Read;

use crate::cli::args::Cli;
use crate::cli::error::CliError;

/// The token to present, if any; surrounding whitespace (a file's final newline) is not part of it.
pub(crate) fn token(cli: &Cli) -> Result<Option<String>, CliError> {
    if let Some(path) = &cli.token_file {
        let mut text = String::new();
        if path.as_os_str() == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Usage(format!("read token from stdin: {e}")))?;
        } else {
            text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("read token file {}: {e}", path.display())))?;
        }
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(std::env::var("AGENTCTL_TOKEN").ok().filter(|t| !t.is_empty()))
}
