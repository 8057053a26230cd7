//! Relative paths of a request's skills and files, checked lexically. The supervisor checks them again,
//! structurally, when it writes them (`O_NOFOLLOW` per component).

pub const MAX_PATH_LEN: usize = 1024;
pub const MAX_COMPONENT_LEN: usize = 255;
/// Most files (skills' and files' together) one request may write.
pub const MAX_FILES: usize = 1000;

/// Checks a caller-given relative path and returns its components.
pub fn check_relative_path(path: &str) -> Result<Vec<&str>, String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if path.contains('\0') {
        return Err("must not contain a NUL byte".into());
    }
    if path.len() > MAX_PATH_LEN {
        return Err(format!("is {} bytes long, more than {MAX_PATH_LEN}", path.len()));
    }
    if path.starts_with('/') {
        return Err(format!(
            "{path:?} is absolute: paths are relative to the session workspace"
        ));
    }
    let components: Vec<&str> = path.split('/').collect();
    for component in &components {
        match *component {
            ".." => {
                return Err(format!(
                    "{path:?} contains `..`: paths must stay inside the workspace"
                ));
            }
            "" | "." => return Err(format!("{path:?} has an empty or `.` component")),
            c if c.len() > MAX_COMPONENT_LEN => {
                return Err(format!(
                    "{path:?} has a component longer than {MAX_COMPONENT_LEN} bytes"
                ));
            }
            _ => {}
        }
    }
    Ok(components)
}
