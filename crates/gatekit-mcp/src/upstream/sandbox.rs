//! Process sandbox for upstream servers (`sandbox:` on an upstream, Python Gatekit 0.3's keys).
//!
//! This module decides *what* a sandboxed server may see ([`plan`]); the submodules turn that
//! decision into a launcher: [`bwrap`] (bubblewrap, Linux) and [`seatbelt`] (`sandbox-exec`
//! profile, macOS). The policy, the same on both:
//!
//! * only the system directories ([`SYSTEM_PATHS`], read-only) exist, plus what the command
//!   itself needs (its program's install directory, the directories of arguments that name
//!   files, its working directory: read-only), the configured `paths` (read-write), the package
//!   caches `~/.npm`, `~/.cache`, `~/.local` (read-write), and an empty writable `/tmp` and
//!   home directory: every other directory (other homes, `/srv`, `/var`, `/run`...) is absent,
//!   as in Python Gatekit's bubblewrap backend (on macOS the profile hides the home directory
//!   and denies writes outside the grants);
//! * credential stores ([`CREDENTIAL_STORES`]) are hidden even when a configured path or a
//!   cache contains them, and a configured path inside one is refused;
//! * `network: false` gives the server a network namespace of its own (loopback only).
//!
//! Invariant: when an upstream asks for a sandbox, the only way to start it is
//! [`prepare`]'s wrapped command; every failure (no launcher, a launcher that cannot build a
//! sandbox here, a refused path) is an error, never an unsandboxed start.

pub mod bwrap;
pub mod seatbelt;

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::ProcessSpec;

/// Credential stores under the home directory that a sandboxed server never sees.
pub const CREDENTIAL_STORES: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".git-credentials",
    ".vault-token",
    ".terraform.d",
];

/// Package caches under the home directory that stay writable (package runners such as `npx`
/// and `uvx` install the server there).
pub const CACHES: &[&str] = &[".npm", ".cache", ".local"];

/// System directories visible (read-only) inside a Linux sandbox, when they exist.
pub const SYSTEM_PATHS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/nix",
];

/// A system directory as the sandbox shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemMount {
    /// A directory, mounted read-only.
    Dir(PathBuf),
    /// A symlink (`/bin -> usr/bin` on merged-/usr systems), recreated as it is.
    Symlink {
        /// Where it points.
        target: PathBuf,
        /// The link.
        path: PathBuf,
    },
}

/// An upstream's `sandbox` settings, with paths already absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Paths granted read-write.
    pub paths: Vec<PathBuf>,
    /// Whether the server may use the network.
    pub network: bool,
    /// Where to look for the launcher program (`bwrap`); Gatekit's own `PATH` when `None`.
    pub launcher_path: Option<OsString>,
}

/// The facts about the machine a plan depends on (injected so plans can be tested).
#[derive(Debug, Clone)]
pub struct Host {
    /// The server's home directory (`HOME` of its environment).
    pub home: Option<PathBuf>,
    /// Gatekit's own home directory when the server was given another one: hidden too.
    pub gatekit_home: Option<PathBuf>,
    /// The server's `PATH`, to find its program.
    pub path_var: Option<OsString>,
    /// The server's working directory.
    pub cwd: PathBuf,
}

impl Host {
    /// The host as the server will see it: its own `HOME`/`PATH` overrides, else Gatekit's.
    pub fn for_process(process: &ProcessSpec) -> Host {
        let var = |name: &str| -> Option<OsString> {
            process
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
                .or_else(|| std::env::var_os(name))
        };
        let cwd = process
            .cwd
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        Host {
            home: var("HOME").map(PathBuf::from).filter(|h| h.is_absolute()),
            gatekit_home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute()),
            path_var: var("PATH"),
            cwd,
        }
    }
}

/// A path hidden by a mount of its own (an empty directory, or an empty file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// The credential store.
    pub path: PathBuf,
    /// Directory (empty tmpfs) or file (`/dev/null`).
    pub is_dir: bool,
}

/// What one sandboxed start of a server may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// System directories (Linux: the only part of the host's tree shown without a grant).
    pub system: Vec<SystemMount>,
    /// Directories replaced by an empty, writable tmpfs: `/tmp` and the home directory.
    pub hidden: Vec<PathBuf>,
    /// Paths shown read-only outside the system directories (what the command needs).
    pub read_only: Vec<PathBuf>,
    /// Paths shown read-write: existing caches and the configured paths.
    pub writable: Vec<PathBuf>,
    /// Credential stores a visible path would otherwise expose.
    pub masks: Vec<Mask>,
    /// Every credential store location (for the log: what the server is denied).
    pub denied: Vec<PathBuf>,
    /// Configured paths that do not exist, and were therefore not granted.
    pub missing: Vec<PathBuf>,
    /// The server's working directory inside the sandbox.
    pub cwd: PathBuf,
    /// Network allowed.
    pub network: bool,
}

/// Decides what a server started as `process` may see under `spec`.
pub fn plan(spec: &SandboxSpec, process: &ProcessSpec, host: &Host) -> Result<Plan, String> {
    // A home of `/` (some service accounts) cannot be hidden without hiding everything.
    let usable = |h: &PathBuf| h.parent().is_some();
    let home = host
        .home
        .as_ref()
        .filter(|h| usable(h))
        .map(|h| canonical(h));
    let mut hidden = vec![PathBuf::from("/tmp")];
    for h in [
        home.clone(),
        host.gatekit_home
            .as_ref()
            .filter(|h| usable(h))
            .map(|h| canonical(h)),
    ]
    .into_iter()
    .flatten()
    {
        if !hidden.contains(&h) {
            hidden.push(h);
        }
    }
    let denied: Vec<PathBuf> = hidden[1..]
        .iter()
        .flat_map(|h| CREDENTIAL_STORES.iter().map(move |c| h.join(c)))
        .collect();

    let mut writable = Vec::new();
    let mut missing = Vec::new();
    for raw in &spec.paths {
        let path = absolute(raw, &host.cwd);
        if !path.exists() {
            missing.push(path);
            continue;
        }
        let path = canonical(&path);
        if let Some(store) = denied
            .iter()
            .find(|d| path.starts_with(d) || path.starts_with(canonical(d)))
        {
            return Err(format!(
                "sandbox path {} is inside the credential store {}, which a sandboxed server \
                 never sees; grant a directory outside it",
                path.display(),
                store.display()
            ));
        }
        writable.push(path);
    }
    if let Some(home) = &home {
        for cache in CACHES {
            let path = home.join(cache);
            if path.is_dir() {
                writable.push(canonical(&path));
            }
        }
    }

    let system = system_mounts();
    let shown: Vec<PathBuf> = system
        .iter()
        .filter_map(|m| match m {
            SystemMount::Dir(d) => Some(d.clone()),
            SystemMount::Symlink { .. } => None,
        })
        .collect();
    let mut read_only = Vec::new();
    let mut need = |path: PathBuf| {
        // Never expose a hidden directory (or the root) as a whole: a server started from
        // the home directory must not see all of it.
        if path.parent().is_none() || hidden.iter().any(|h| h == &path) {
            return;
        }
        if !shown.iter().any(|s| path.starts_with(s)) {
            read_only.push(path);
        }
    };
    if let Some(program) = resolve_program(&process.program, host) {
        for found in [program.clone(), canonical(&program)] {
            need(install_root(&found, &hidden));
        }
    }
    for arg in &process.args {
        if arg.starts_with('-') || arg.is_empty() {
            continue;
        }
        let path = absolute(Path::new(arg), &host.cwd);
        for path in [path.clone(), canonical(&path)] {
            // A script's directory (it may import its siblings), else the file alone.
            match path.parent().filter(|_| path.is_file()) {
                Some(dir) if dir.parent().is_some() && !hidden.iter().any(|h| h == dir) => {
                    need(dir.to_path_buf())
                }
                _ if path.exists() => need(path),
                _ => {}
            }
        }
    }
    let cwd = canonical(&host.cwd);
    need(cwd.clone());
    read_only.retain(|r| !writable.iter().any(|w| r.starts_with(w)));
    read_only.sort();
    read_only.dedup();
    writable.sort();
    writable.dedup();

    let visible: Vec<&PathBuf> = read_only.iter().chain(&writable).collect();
    let masks = denied
        .iter()
        .filter(|store| visible.iter().any(|v| store.starts_with(v)))
        .filter_map(|store| {
            let meta = std::fs::symlink_metadata(store).ok()?;
            Some(Mask {
                path: store.clone(),
                is_dir: meta.is_dir(),
            })
        })
        .collect();
    Ok(Plan {
        system,
        hidden,
        read_only,
        writable,
        masks,
        denied,
        missing,
        cwd,
        network: spec.network,
    })
}

/// The command that starts `process` inside the sandbox `spec` on this platform, after
/// checking that the platform's launcher exists and works. Never returns the unwrapped command.
pub async fn prepare(
    spec: &SandboxSpec,
    process: &ProcessSpec,
) -> Result<(ProcessSpec, Plan), String> {
    let plan = plan(spec, process, &Host::for_process(process))?;
    #[cfg(target_os = "macos")]
    {
        let launcher = seatbelt::locate()?;
        Ok((seatbelt::wrap(&launcher, &plan, process), plan))
    }
    #[cfg(not(target_os = "macos"))]
    {
        let launcher = bwrap::locate(spec.launcher_path.as_deref())?;
        bwrap::probe(&launcher, spec.network).await?;
        Ok((bwrap::wrap(&launcher, &plan, process), plan))
    }
}

/// The [`SYSTEM_PATHS`] that exist, plus the target of `/etc/resolv.conf` when it is a link
/// out of them (systemd-resolved keeps it under `/run`): name resolution must keep working.
fn system_mounts() -> Vec<SystemMount> {
    let mut out = Vec::new();
    for path in SYSTEM_PATHS.iter().map(PathBuf::from) {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(&path) {
                out.push(SystemMount::Symlink { target, path });
            }
        } else if meta.is_dir() {
            out.push(SystemMount::Dir(path));
        }
    }
    let resolv = canonical(Path::new("/etc/resolv.conf"));
    let inside = |p: &Path| {
        out.iter()
            .any(|m| matches!(m, SystemMount::Dir(d) if p.starts_with(d)))
    };
    if resolv.exists() && !inside(&resolv) {
        out.push(SystemMount::Dir(resolv));
    }
    out
}

/// Finds the program the way `execvp` would: a name with a `/` is a path from the working
/// directory, anything else is looked up on `PATH`.
fn resolve_program(program: &str, host: &Host) -> Option<PathBuf> {
    if program.contains('/') {
        let path = absolute(Path::new(program), &host.cwd);
        return path.exists().then_some(path);
    }
    let path_var = host.path_var.as_ref()?;
    std::env::split_paths(path_var)
        .map(|dir| absolute(&dir, &host.cwd).join(program))
        .find(|candidate| candidate.is_file())
}

/// The directory a program needs: its install prefix when it sits in a `bin` directory
/// (`~/.nvm/versions/node/v22/bin/node` needs `.../v22/lib` too), else its own directory.
/// A hidden directory itself is never returned: then only the program file is granted.
fn install_root(program: &Path, hidden: &[PathBuf]) -> PathBuf {
    let Some(dir) = program.parent() else {
        return program.to_path_buf();
    };
    let root = if dir.file_name().is_some_and(|n| n == "bin") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    if root.parent().is_none() || hidden.iter().any(|h| h.starts_with(root)) {
        program.to_path_buf()
    } else {
        root.to_path_buf()
    }
}

/// `path` made absolute against `cwd`, with `.` and `..` resolved lexically.
fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The path with symlinks resolved when it exists, else as given: the sandbox mounts real
/// directories, and a symlink inside a granted directory must not lead out of the policy.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Depth of a path, to mount parents before children.
fn depth(path: &Path) -> usize {
    path.components().count()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]
mod tests {
    use super::*;

    fn process(program: &str, args: &[&str]) -> ProcessSpec {
        ProcessSpec {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec![],
            cwd: None,
        }
    }

    fn spec(paths: &[&Path], network: bool) -> SandboxSpec {
        SandboxSpec {
            paths: paths.iter().map(|p| p.to_path_buf()).collect(),
            network,
            launcher_path: None,
        }
    }

    /// A fake home with credential stores, a cache and an installed program.
    fn fake_home() -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().canonicalize().unwrap();
        for d in [
            ".ssh",
            ".aws",
            ".config/gcloud",
            ".npm",
            "tools/bin",
            "tools/lib",
            "work",
        ] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(home.join(".git-credentials"), "x").unwrap();
        std::fs::write(home.join("tools/bin/srv"), "#!/bin/sh\n").unwrap();
        std::fs::write(home.join("work/server.py"), "").unwrap();
        let host = Host {
            home: Some(home.clone()),
            gatekit_home: None,
            path_var: Some(OsString::from(format!(
                "/usr/bin:{}",
                home.join("tools/bin").display()
            ))),
            cwd: PathBuf::from("/"),
        };
        (dir, host)
    }

    #[test]
    fn home_and_tmp_are_hidden_and_every_credential_store_is_denied() {
        let (_dir, host) = fake_home();
        let home = host.home.clone().unwrap();
        let plan = plan(&spec(&[], true), &process("/usr/bin/env", &[]), &host).unwrap();
        assert_eq!(plan.hidden, vec![PathBuf::from("/tmp"), home.clone()]);
        assert_eq!(plan.denied.len(), CREDENTIAL_STORES.len());
        assert!(plan.denied.contains(&home.join(".config/gcloud")));
        assert_eq!(
            plan.writable,
            vec![home.join(".npm")],
            "existing caches only"
        );
        assert!(plan.masks.is_empty(), "nothing visible contains a store");
    }

    #[test]
    fn the_program_install_prefix_and_file_arguments_are_read_only() {
        let (_dir, host) = fake_home();
        let home = host.home.clone().unwrap();
        let plan = plan(
            &spec(&[], false),
            &process(
                "srv",
                &["-v", &home.join("work/server.py").display().to_string()],
            ),
            &host,
        )
        .unwrap();
        assert_eq!(plan.read_only, vec![home.join("tools"), home.join("work")]);
        assert!(!plan.network);
    }

    #[test]
    fn a_granted_directory_containing_credential_stores_gets_them_masked() {
        let (_dir, host) = fake_home();
        let home = host.home.clone().unwrap();
        let plan = plan(&spec(&[&home], true), &process("/usr/bin/env", &[]), &host).unwrap();
        assert!(plan.writable.contains(&home));
        let masked: Vec<(&Path, bool)> = plan
            .masks
            .iter()
            .map(|m| (m.path.as_path(), m.is_dir))
            .collect();
        assert!(
            masked.contains(&(home.join(".ssh").as_path(), true)),
            "{masked:?}"
        );
        assert!(
            masked.contains(&(home.join(".git-credentials").as_path(), false)),
            "{masked:?}"
        );
        assert!(
            masked.contains(&(home.join(".config/gcloud").as_path(), true)),
            "{masked:?}"
        );
        assert!(
            !masked.iter().any(|(p, _)| p.ends_with(".kube")),
            "absent stores need no mask"
        );
    }

    #[test]
    fn a_path_inside_a_credential_store_is_refused() {
        let (_dir, host) = fake_home();
        let home = host.home.clone().unwrap();
        let err = plan(
            &spec(&[&home.join(".aws")], true),
            &process("/usr/bin/env", &[]),
            &host,
        )
        .unwrap_err();
        assert!(
            err.contains("credential store") && err.contains(".aws"),
            "{err}"
        );
    }

    #[test]
    fn missing_paths_are_reported_not_granted() {
        let (_dir, host) = fake_home();
        let plan = plan(
            &spec(&[Path::new("/nonexistent/gatekit-test")], true),
            &process("/usr/bin/env", &[]),
            &host,
        )
        .unwrap();
        assert_eq!(
            plan.missing,
            vec![PathBuf::from("/nonexistent/gatekit-test")]
        );
        assert!(!plan.writable.iter().any(|w| w.starts_with("/nonexistent")));
    }

    #[test]
    fn only_system_directories_and_grants_are_shown() {
        let (_dir, host) = fake_home();
        let home = host.home.clone().unwrap();
        std::fs::write(home.join("notes.txt"), "x").unwrap();
        let plan = plan(
            &spec(&[], true),
            &process(
                "/usr/bin/env",
                &[&home.join("notes.txt").display().to_string()],
            ),
            &host,
        )
        .unwrap();
        assert!(plan.system.contains(&SystemMount::Dir("/usr".into())));
        assert!(plan.system.iter().all(|m| match m {
            SystemMount::Dir(d) =>
                SYSTEM_PATHS.iter().any(|s| d.starts_with(s)) || d.ends_with("resolv.conf"),
            SystemMount::Symlink { path, .. } => SYSTEM_PATHS.iter().any(|s| path == Path::new(s)),
        }));
        // A file directly in the home directory: the file alone, never the home directory.
        assert_eq!(plan.read_only, vec![home.join("notes.txt")]);
    }

    #[test]
    fn a_server_started_from_home_does_not_expose_all_of_it() {
        let (_dir, mut host) = fake_home();
        let home = host.home.clone().unwrap();
        host.cwd = home.clone();
        let plan = plan(&spec(&[], true), &process("/usr/bin/env", &[]), &host).unwrap();
        assert!(!plan.read_only.contains(&home), "{:?}", plan.read_only);
        assert_eq!(plan.cwd, home);
    }

    #[test]
    fn paths_are_made_absolute_lexically() {
        assert_eq!(
            absolute(Path::new("../b/./c"), Path::new("/x/a")),
            PathBuf::from("/x/b/c")
        );
        assert_eq!(depth(Path::new("/a/b")), 3);
    }
}
