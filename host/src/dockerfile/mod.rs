//! Dockerfiles (and Containerfiles), for `sbx build` and `commit --change`: the
//! file read into stages and steps ([`parse`], RUN's heredocs by [`heredoc`]), the words of an instruction's
//! arguments with docker's quoting and variables ([`words`]), what the instructions that only
//! configure an image do to its config ([`config`]), build arguments and their scopes
//! ([`args`]), and which context files `.dockerignore` leaves out ([`ignore`]). Pure; the build
//! itself, which runs the steps that make layers, lives above this and the container modules.

pub mod args;
pub mod config;
mod heredoc;
pub mod ignore;
pub mod parse;
pub mod words;

pub use parse::{Command, Dockerfile, DockerfileError, Heredoc, Instruction, Source, Stage, Step, Transfer, parse};
