//! Gatekit's configuration file: reading, checking and normalising it.
//!
//! The file is YAML. A Python Gatekit 0.3 file (`proxy`, `plugins`, `logging`) loads unchanged;
//! the `siem` section of the SIEM requirements is accepted alongside it. Loading happens in
//! three steps, each with one job:
//!
//! 1. [`model`]: the serde shape of the file. Every struct denies unknown keys, so a typo is an
//!    error that names its path (`proxy.upstreams[0].comand`) and its line.
//! 2. [`validate`]: checks that need the whole file (duplicate upstream names, plugin scopes that
//!    name no upstream, features this build does not have). It collects *every* problem instead
//!    of stopping at the first, so `gatekit check` can print them all at once.
//! 3. [`Config`]: the checked result, with paths resolved against the config file's directory.
//!
//! Invariants: nothing here touches the network or starts a process; a value written as
//! `${VAR}` is expanded once, at load, and an unset variable is an error, never an empty string.

pub mod error;
pub mod expand;
pub mod model;
pub mod names;
pub mod validate;

use std::path::{Path, PathBuf};

pub mod locate;

pub use error::{ConfigError, ConfigErrors};
pub use model::ConfigFile;
pub use validate::Warning;

/// The YAML library, for callers that read plugin or SIEM sections kept as YAML values.
pub use serde_norway as yaml;

/// A configuration that parsed and passed validation.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file as written, after `${VAR}` expansion.
    pub file: ConfigFile,
    /// Directory that relative paths in the file are resolved against.
    pub base_dir: PathBuf,
    /// Where the configuration came from (a path, or a label for built-in configs).
    pub source: String,
    /// Things that load but deserve the operator's attention.
    pub warnings: Vec<Warning>,
    /// The text the configuration was parsed from, to locate errors found later (empty
    /// when an environment overlay was merged in: its lines are no file's lines).
    text: String,
}

/// Environment variable naming the environment whose overlay file applies
/// (`development`, `staging`, `production`, ...).
pub const ENV_VAR: &str = "GATEKIT_ENV";

impl Config {
    /// Reads and validates the configuration file at `path`, with the overlay of the
    /// environment named by `GATEKIT_ENV` when it is set.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let env = std::env::var(ENV_VAR).ok().filter(|e| !e.is_empty());
        Self::load_for(path, env.as_deref())
    }

    /// Reads `path` and, for environment `env`, the overlay file next to it
    /// (`gatekit.yaml` + `production` → `gatekit.production.yaml`): its mappings are merged
    /// into the base key by key, lists and values replace. This is the requirements'
    /// "Environment-Specific Overrides": one base file, a small file per environment.
    pub fn load_for(path: &Path, env: Option<&str>) -> Result<Config, ConfigErrors> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::single(ConfigError::file(&source, format!("cannot read file: {e}")))
        })?;
        let base_dir = path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        let Some(env) = env else {
            return Self::from_yaml(&text, &source, base_dir);
        };
        if !env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigErrors::single(ConfigError::file(
                &source,
                format!("{ENV_VAR}={env:?} is not a valid environment name"),
            )));
        }
        // Check the base file on its own first, so its errors keep their line numbers.
        let mut config = Self::from_yaml(&text, &source, base_dir.clone())?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("gatekit");
        let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("yaml");
        let overlay_path = path.with_file_name(format!("{stem}.{env}.{ext}"));
        let Ok(overlay_text) = std::fs::read_to_string(&overlay_path) else {
            config.warnings.push(Warning {
                path: ENV_VAR.into(),
                message: format!(
                    "no overlay file {} for environment `{env}`; using the base file only",
                    overlay_path.display()
                ),
            });
            return Ok(config);
        };
        let label = format!("{source} + {}", overlay_path.display());
        let parse = |t: &str, src: &str| -> Result<yaml::Value, ConfigErrors> {
            yaml::from_str(t)
                .map_err(|e| ConfigErrors::single(ConfigError::file(src, e.to_string())))
        };
        let mut merged = parse(&text, &source)?;
        merge(
            &mut merged,
            parse(&overlay_text, &overlay_path.display().to_string())?,
        );
        let merged_text = yaml::to_string(&merged)
            .map_err(|e| ConfigErrors::single(ConfigError::file(&label, e.to_string())))?;
        let mut config = Self::from_yaml(&merged_text, &label, base_dir)?;
        config.source = source;
        config.text.clear();
        Ok(config)
    }

    /// Parses and validates configuration text; `source` labels errors, `base_dir` resolves
    /// relative paths.
    pub fn from_yaml(text: &str, source: &str, base_dir: PathBuf) -> Result<Config, ConfigErrors> {
        let file = model::parse(text, source)?;
        let warnings = validate::validate(&file, source)?;
        Ok(Config {
            file,
            base_dir,
            source: source.to_string(),
            warnings,
            text: text.to_string(),
        })
    }

    /// `error` with the line and column of its key path in this file, when it has none yet
    /// and the key (or its nearest parent) can be found.
    pub fn locate(&self, mut error: ConfigError) -> ConfigError {
        if error.line.is_none() && !error.path.is_empty() {
            if let Some((line, column)) = locate::find(&self.text, &error.path) {
                error.line = Some(line);
                error.column = Some(column);
            }
        }
        error
    }

    /// Resolves a path from the file against the config file's directory.
    pub fn resolve_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Merges `overlay` into `base`: mappings key by key (recursively), anything else replaced.
fn merge(base: &mut yaml::Value, overlay: yaml::Value) {
    match (base, overlay) {
        (yaml::Value::Mapping(b), yaml::Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}
