//! What stops a build, and the exit status it gives: 1 for a step that failed (docker's), 125 for
//! sbx's own failures and for refusals of the Dockerfile or the context.

use crate::container::RunError;
use crate::dockerfile::DockerfileError;
use crate::image::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    /// What is wrong with a step's arguments or sources.
    #[error("{file}:{line}: {message}")]
    At { file: String, line: usize, message: String },
    /// A step that sbx could not carry out, or that a policy denied.
    #[error("{file}:{line}: {step}: {source}")]
    Step { file: String, line: usize, step: String, source: Box<RunError> },
    #[error("{file}:{line}: {step}: the command returned a non-zero code: {code}")]
    Failed { file: String, line: usize, step: String, code: i32 },
    #[error("cannot read the build context {path}: {source}")]
    Context { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BuildError {
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::Failed { .. } => 1,
            BuildError::Step { source, .. } if matches!(**source, RunError::Denied { .. }) => 1,
            _ => 125,
        }
    }
}

/// Where in the Dockerfile a step is, for its errors.
#[derive(Debug, Clone)]
pub struct At<'a> {
    pub file: &'a str,
    pub line: usize,
    pub text: &'a str,
}

impl At<'_> {
    pub fn error(&self, message: impl std::fmt::Display) -> BuildError {
        BuildError::At { file: self.file.to_string(), line: self.line, message: message.to_string() }
    }

    pub fn failed(&self, source: impl Into<RunError>) -> BuildError {
        BuildError::Step {
            file: self.file.to_string(),
            line: self.line,
            step: self.first_line(),
            source: Box::new(source.into()),
        }
    }

    /// The instruction's first line, to name it.
    pub fn first_line(&self) -> String {
        let first = self.text.lines().next().unwrap_or("");
        if first.len() < self.text.len() {
            format!("{} ...", first.trim_end_matches('\\').trim_end())
        } else {
            first.to_string()
        }
    }
}
