//! What an agent's environment gains from an installed npm tree.

use std::path::Path;

/// Sets `NODE_PATH` to `node_modules` (so `require` finds the packages from any directory) and puts its
/// `.bin` first on `PATH` (so the Bash tool finds their commands). `NODE_PATH` is not the caller's to set
/// (`protocol::validate` refuses it), so nothing is overridden.
pub(crate) fn agent_env(env: &mut Vec<(String, String)>, node_modules: &Path) {
    let bin = node_modules.join(".bin");
    let bin = bin.to_string_lossy();
    match env.iter_mut().find(|(k, _)| k == "PATH") {
        Some((_, path)) if path.is_empty() => *path = bin.into_owned(),
        Some((_, path)) => *path = format!("{bin}:{path}"),
        None => env.push(("PATH".into(), bin.into_owned())),
    }
    env.retain(|(k, _)| k != "NODE_PATH");
    env.push(("NODE_PATH".into(), node_modules.to_string_lossy().into_owned()));
    env.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(env: &[(&str, &str)], expected: &[(&str, &str)]) {
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        agent_env(&mut env, Path::new("/w/packages/npm/ab/node_modules"));
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn the_tree_comes_first_on_path_and_is_node_path() {
        let tree = "/w/packages/npm/ab/node_modules";
        check(
            &[("HOME", "/h"), ("PATH", "/usr/bin:/bin")],
            &[
                ("HOME", "/h"),
                ("NODE_PATH", tree),
                ("PATH", "/w/packages/npm/ab/node_modules/.bin:/usr/bin:/bin"),
            ],
        );
        check(
            &[("PATH", "")],
            &[
                ("NODE_PATH", tree),
                ("PATH", "/w/packages/npm/ab/node_modules/.bin"),
            ],
        );
        check(
            &[("NODE_PATH", "/elsewhere")],
            &[
                ("NODE_PATH", tree),
                ("PATH", "/w/packages/npm/ab/node_modules/.bin"),
            ],
        );
    }
}
