//! The build's steps in order: the stages the target needs, each from its base (`scratch`, an
//! earlier stage, or a stored image, pulled when missing), its base's ONBUILD triggers, then its
//! instructions; each step's image from the cache or made ([`super::run_step`],
//! [`super::transfer`], or a config change), checked by the layer policies when it has a new
//! layer, and stored. Progress goes to stderr, one line per step, as podman's and docker's builders
//! print it.

use super::cache;
use super::context::Tree;
use super::error::{At, BuildError};
use super::run_step::{self, Ran, RunStep};
use super::transfer;
use super::working::Working;
use super::{sources, stages};
use crate::container::admission;
use crate::dockerfile::args::{self, BuildArgs};
use crate::dockerfile::config::{self as dconfig, Configurer};
use crate::dockerfile::words;
use crate::dockerfile::{Instruction, Stage, Step};
use crate::image::{ImageRecord, Store};
use crate::plugin::PluginSet;
use crate::spec::Overrides;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Where the build context comes from.
#[derive(Debug, Clone)]
pub enum ContextArg {
    Dir(PathBuf),
    /// `-`: a tarball on stdin.
    Stdin,
}

/// What `sbx build` was asked.
pub struct BuildOptions<'a> {
    pub context: ContextArg,
    /// `-f`: the Dockerfile (a host path; in a tarball context, a path in it).
    pub file: Option<PathBuf>,
    /// `-t`, normalized.
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--pull`: pull every base image, even one that is stored.
    pub pull: bool,
    /// `--label`: on the image made.
    pub labels: Vec<(String, String)>,
    /// How RUN steps run: the build's network.
    pub overrides: Overrides,
    /// `--secret id=ID,src=FILE`: what `RUN --mount=type=secret,id=ID` mounts.
    pub secrets: BTreeMap<String, PathBuf>,
    pub quiet: bool,
    /// Pulls a base image that is not stored (or any, with `--pull`); Err says why it cannot.
    pub fetch: &'a dyn Fn(&str) -> Result<(), String>,
}

/// The build as it goes: what it was asked, the stages made so far, the step count.
struct Builder<'a> {
    store: &'a Store,
    opts: &'a BuildOptions<'a>,
    plugins: &'a PluginSet,
    file: String,
    context: Tree,
    args: BuildArgs,
    /// Each stage's final image, once made.
    made: Vec<Option<Working>>,
    names: Vec<Option<String>>,
    step: usize,
    total: usize,
}

impl Builder<'_> {
    fn say(&self, text: std::fmt::Arguments) {
        if !self.opts.quiet {
            eprintln!("{text}");
        }
    }

    /// The stage `name` names (its `AS` name, or its index), before stage `before`.
    fn stage_named(&self, name: &str, before: usize) -> Option<usize> {
        stages::find(&self.names, name, before)
    }
}

/// What the steps of a stage share as they go.
struct StageCx<'a> {
    /// The ARGs in scope, with their values.
    scope: &'a mut BTreeMap<String, String>,
    configurer: &'a mut Configurer,
    stage: usize,
    /// The ARGs declared after the step (line, name).
    later: &'a [(usize, String)],
}

/// Builds the image `opts` describe; returns it, named as `-t` says.
pub fn build(store: &Store, opts: &BuildOptions, plugins: &PluginSet) -> Result<ImageRecord, BuildError> {
    let _building = run_step::Building::begin(store)?;
    let context = match &opts.context {
        ContextArg::Dir(path) => Tree::context_dir(path)?,
        ContextArg::Stdin => Tree::context_tar(store, std::io::stdin().lock())?,
    };
    let (file, text) = context.dockerfile(opts.file.as_deref(), matches!(opts.context, ContextArg::Stdin))?;
    let dockerfile = crate::dockerfile::parse(&file, &text)?;
    let mut args = BuildArgs::new(opts.build_args.clone());
    for step in &dockerfile.global_args {
        let Instruction::Arg(text) = &step.instruction else { continue };
        args.declare_global(text).map_err(|m| BuildError::At { file: file.clone(), line: step.line, message: m })?;
    }
    let bases: Vec<String> = dockerfile
        .stages
        .iter()
        .map(|s| {
            words::word(&s.base, &|n| args.in_from(n)).map_err(|m| BuildError::At {
                file: file.clone(),
                line: s.line,
                message: m,
            })
        })
        .collect::<Result<_, _>>()?;
    if let Some((stage, _)) = dockerfile.stages.iter().zip(&bases).find(|(_, b)| b.is_empty()) {
        return Err(BuildError::At {
            file,
            line: stage.line,
            message: format!(
                "FROM {} names no image: declare its variables with ARG before the first FROM, or give them with --build-arg",
                stage.base
            ),
        });
    }
    let names: Vec<Option<String>> = dockerfile.stages.iter().map(|s| s.name.clone()).collect();
    let target = match &opts.target {
        None => dockerfile.stages.len() - 1,
        Some(t) => names.iter().position(|n| n.as_deref() == Some(t.to_lowercase().as_str())).ok_or_else(|| {
            let known: Vec<String> =
                names.iter().enumerate().map(|(i, n)| n.clone().unwrap_or_else(|| i.to_string())).collect();
            BuildError::Usage(format!("target stage '{t}' is not in {file} (its stages: {})", known.join(", ")))
        })?,
    };
    let need = stages::needed(&dockerfile, &bases, target);
    let total = dockerfile.stages.iter().zip(&need).filter(|(_, n)| **n).map(|(s, _)| 1 + s.steps.len()).sum();
    let mut b = Builder {
        store,
        opts,
        plugins,
        file,
        context,
        args,
        made: vec![None; dockerfile.stages.len()],
        names,
        step: 0,
        total,
    };
    for (i, stage) in dockerfile.stages.iter().enumerate().take(target + 1) {
        if need[i] {
            let made = b.stage(i, stage, &bases[i])?;
            b.made[i] = Some(made);
        }
    }
    let unused = b.args.unused();
    if !unused.is_empty() {
        eprintln!("sbx: warning: build arguments not consumed by any ARG: {}", unused.join(", "));
    }
    let last = b.made[target].take().expect("the target was built");
    b.finish(last)
}

impl Builder<'_> {
    fn stage(&mut self, index: usize, stage: &Stage, base: &str) -> Result<Working, BuildError> {
        self.step += 1;
        let from_at = |m: String| BuildError::At { file: self.file.clone(), line: stage.line, message: m };
        let mut working = if base == "scratch" {
            Working::scratch()
        } else if let Some(j) = self.stage_named(base, index) {
            self.made[j].clone().ok_or_else(|| from_at(format!("stage {base} was not built")))?
        } else {
            let image = self.base_image(base).map_err(from_at)?;
            let reference = base.to_string();
            admission::check_new_image(self.store, &reference, &image, self.plugins).map_err(|e| BuildError::Step {
                file: self.file.clone(),
                line: stage.line,
                step: format!("FROM {base}"),
                source: Box::new(e),
            })?;
            Working::of(self.store, &image)?
        };
        // The base's triggers run here, and are not passed on to this image.
        let mut steps: Vec<Step> = Vec::new();
        for trigger in working.triggers() {
            let parsed = crate::dockerfile::parse("ONBUILD", &format!("FROM scratch\n{trigger}\n"))
                .map_err(|e| from_at(format!("the base's ONBUILD {trigger}: {}", e.message)))?;
            for mut s in parsed.stages.into_iter().flat_map(|s| s.steps) {
                s.line = stage.line;
                steps.push(s);
            }
        }
        if !steps.is_empty() {
            self.total += steps.len();
            working.config["config"]["OnBuild"] = serde_json::Value::Null;
        }
        let alias = stage.name.as_ref().map_or_else(String::new, |n| format!(" AS {n}"));
        self.say(format_args!("STEP {}/{}: FROM {base}{alias}", self.step, self.total));
        steps.extend(stage.steps.iter().cloned());
        let declared: Vec<(usize, String)> = steps
            .iter()
            .filter_map(|s| match &s.instruction {
                Instruction::Arg(text) => Some((s.line, args::declared(text, &|_| None).ok()?)),
                _ => None,
            })
            .flat_map(|(line, list)| list.into_iter().map(move |(name, _)| (line, name)))
            .collect();
        let mut scope = BTreeMap::new();
        let mut configurer = Configurer::default();
        for step in &steps {
            let later: Vec<(usize, String)> = declared.iter().filter(|(l, _)| *l > step.line).cloned().collect();
            let mut cx = StageCx { scope: &mut scope, configurer: &mut configurer, stage: index, later: &later };
            working = self.run_step(step, working, &mut cx)?;
        }
        Ok(working)
    }

    /// A stored base image, pulled when it is not stored (or always, with `--pull`).
    fn base_image(&self, name: &str) -> Result<ImageRecord, String> {
        if !self.opts.pull
            && let Ok(image) = self.store.find_image(name)
        {
            return Ok(image);
        }
        (self.opts.fetch)(name)?;
        self.store.find_image(name).map_err(|e| e.to_string())
    }

    fn run_step(&mut self, step: &Step, working: Working, cx: &mut StageCx) -> Result<Working, BuildError> {
        self.step += 1;
        let file = self.file.clone();
        let at = At { file: &file, line: step.line, text: &step.text };
        self.say(format_args!("STEP {}/{}: {}", self.step, self.total, at.first_line()));
        let started = Instant::now();
        let settings = working.settings().clone();
        if let Instruction::Arg(text) = &step.instruction {
            let env = |n: &str| dconfig::env_value(&settings, n);
            self.args.declare(text, cx.scope, &env).map_err(|m| at.error(m))?;
            return Ok(working);
        }
        let (scope, configurer, stage) = (&*cx.scope, &mut *cx.configurer, cx.stage);
        // Variables replaced now (not by a RUN's shell) that an ARG declares only further down.
        let missed = std::cell::RefCell::new(Vec::new());
        let env_or_arg = |n: &str| {
            let value = dconfig::env_value(&settings, n).or_else(|| scope.get(n).cloned());
            if value.is_none() {
                missed.borrow_mut().push(n.to_string());
            }
            value
        };
        let early = || match missed.borrow().iter().find_map(|n| cx.later.iter().find(|(_, d)| d == n)) {
            Some((line, name)) => {
                Err(at.error(format!("${name} is used before its ARG on line {line}: move the ARG above this line")))
            }
            None => Ok(()),
        };
        let in_scope: Vec<String> = scope.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // What the step makes, found in the cache or made.
        let from = match &step.instruction {
            Instruction::Copy(t) | Instruction::Add(t) => self.source_tree(t, stage, &at)?,
            _ => None,
        };
        let content = match &step.instruction {
            Instruction::Copy(t) | Instruction::Add(t) => {
                let add = matches!(step.instruction, Instruction::Add(_));
                let tree = from.as_ref().unwrap_or(&self.context);
                let plan = sources::plan(self.store, t, add, tree, &working, &env_or_arg, &at)?;
                early()?;
                let digest = plan.digest().map_err(|m| at.error(m))?;
                Some((digest, plan))
            }
            _ => None,
        };
        let key = cache::key(working.id.as_ref(), &step.text, &in_scope, content.as_ref().map(|(d, _)| d.as_str()));
        if !self.opts.no_cache
            && let Some(hit) = cache::lookup(self.store, &key)
        {
            // A cached step still configures what follows as it would have.
            if let Instruction::Cmd(_) = &step.instruction {
                let _ = configurer.apply(&mut settings.clone(), &step.instruction, &env_or_arg);
            }
            self.say(format_args!("--> CACHED {}", hit.id.short()));
            return Ok(Working::of(self.store, &hit)?);
        }
        let (next, image) = match &step.instruction {
            Instruction::Run { flags, command, heredocs } => {
                let run_flags = run_step::run_flags(flags).map_err(|m| at.error(m))?;
                let Some(parent) = working.id.as_ref().and_then(|id| self.store.find_image(id.hex()).ok()) else {
                    return Err(
                        at.error("RUN needs files to run: a FROM scratch stage has none until a COPY adds some")
                    );
                };
                let argv = run_step::run_argv(command, heredocs, &settings);
                let declared_env = |k: &str| dconfig::env_value(&settings, k).is_some();
                let mut env: Vec<String> =
                    scope.iter().filter(|(k, _)| !declared_env(k)).map(|(k, v)| format!("{k}={v}")).collect();
                env.extend(args::PREDEFINED.iter().filter_map(|n| self.args.predefined(n).map(|v| format!("{n}={v}"))));
                let mut overrides = self.opts.overrides.clone();
                if let Some(n) = &run_flags.network {
                    (overrides.network, overrides.networks) =
                        crate::spec::parse_network(n, &[]).map_err(|e| at.error(format!("RUN --network={n}: {e}")))?;
                }
                let mut mount_points = Vec::new();
                for (id, target, required) in &run_flags.secrets {
                    match self.opts.secrets.get(id) {
                        Some(src) => {
                            overrides.volumes.push(format!("{}:{target}:ro", src.display()));
                            mount_points.push(target.clone());
                        }
                        None if *required => {
                            return Err(
                                at.error(format!("secret {id} is required: give it with --secret id={id},src=FILE"))
                            );
                        }
                        None => {}
                    }
                }
                overrides.annotations.insert(run_step::STEP_ANNOTATION.into(), format!("{}/{}", self.step, self.total));
                overrides.annotations.insert("io.sbx.build.instruction".into(), at.first_line());
                let what = format!("{}:{} ({})", self.file, step.line, at.first_line());
                let lowers = self.store.layer_diffs(&parent.layers);
                let run = RunStep { argv, env, overrides, show: !self.opts.quiet, what: &what, mount_points, lowers };
                let ran = run_step::run(self.store, &parent, run, self.plugins).map_err(|e| at.failed(e))?;
                let layer = match ran {
                    Ran::Layer(l) => l,
                    Ran::Failed(code) => {
                        return Err(BuildError::Failed {
                            file: self.file.clone(),
                            line: step.line,
                            step: at.first_line(),
                            code,
                        });
                    }
                };
                working.next(self.store, Some(&step.text), Some(layer), |_| {})?
            }
            Instruction::Copy(_) | Instruction::Add(_) => {
                let (_, plan) = content.expect("planned above");
                let what = format!("{}:{} ({})", self.file, step.line, at.first_line());
                let layers = self.store.layer_diffs(&working.layers);
                let layer = plan.apply(self.store, &layers, &what).map_err(|m| at.error(m))?;
                working.next(self.store, Some(&step.text), Some(layer), |_| {})?
            }
            Instruction::Maintainer(name) => {
                let name = name.clone();
                working.next(self.store, Some(&step.text), None, |c| c["author"] = name.into())?
            }
            other => {
                let mut changed = settings.clone();
                configurer.apply(&mut changed, other, &env_or_arg).map_err(|m| at.error(m))?;
                early()?;
                working.next(self.store, Some(&step.text), None, |c| c["config"] = changed)?
            }
        };
        let image = if step.instruction.makes_layer() { self.checked(image, &at)? } else { image };
        self.store.save_image(image.clone())?;
        cache::remember(self.store, &key, &image.id)?;
        self.say(format_args!("--> {} {:.2}s", image.id.short(), started.elapsed().as_secs_f64()));
        Ok(next)
    }

    /// The layer policies on a step's new layer (the whole image, as a run would check it); a
    /// denied layer is not kept.
    fn checked(&self, image: ImageRecord, at: &At) -> Result<ImageRecord, BuildError> {
        let reference = format!("{}:{}", self.file, at.line);
        if let Err(e) = admission::check_new_image(self.store, &reference, &image, self.plugins) {
            let layer = image.layers.last().map(|l| l.diff_id.clone());
            let nothing = |_: &[ImageRecord], _: &[crate::image::remove::ImageUser]| Ok(Vec::new());
            let users = || crate::container::remove::image_users(self.store);
            let _ = self.store.remove_images_freeing(&nothing, &users, layer.as_slice());
            let _ = std::fs::remove_file(self.store.blob_path(&image.id));
            return Err(at.failed(e));
        }
        Ok(image)
    }

    /// The tree `COPY --from` reads: a stage's image, or a stored one; None for the context.
    fn source_tree(&self, t: &crate::dockerfile::Transfer, stage: usize, at: &At) -> Result<Option<Tree>, BuildError> {
        let Some((_, from)) = t.flags.iter().find(|(k, _)| k == "from") else { return Ok(None) };
        let from = from.as_deref().ok_or_else(|| at.error("--from needs a stage or an image"))?;
        let layers = match self.stage_named(from, stage) {
            Some(j) => self.made[j]
                .as_ref()
                .map(|w| w.layers.clone())
                .ok_or_else(|| at.error(format!("stage {from} was not built")))?,
            None => self.base_image(from).map_err(|m| at.error(m))?.layers,
        };
        transfer::image_tree(self.store, &self.store.layer_diffs(&layers)).map(Some).map_err(|m| at.error(m))
    }

    /// The image made: with the build's `--label`s, named as `-t` says.
    fn finish(&self, last: Working) -> Result<ImageRecord, BuildError> {
        let mut image = match &last.id {
            Some(id) => self.store.find_image(id.hex())?,
            None => {
                // `FROM scratch` and nothing else: an empty image.
                let (_, image) = last.next(self.store, None, None, |_| {})?;
                self.store.save_image(image)?
            }
        };
        if !self.opts.labels.is_empty() {
            let working = Working::of(self.store, &image)?;
            let labels = self.opts.labels.clone();
            let (_, labelled) = working.next(self.store, None, None, |c| {
                for (k, v) in labels {
                    if !c["config"]["Labels"].is_object() {
                        c["config"]["Labels"] = serde_json::json!({});
                    }
                    c["config"]["Labels"][k] = v.into();
                }
            })?;
            image = self.store.save_image(labelled)?;
        }
        if !self.opts.tags.is_empty() {
            image.names = self.opts.tags.clone();
            image = self.store.save_image(image)?;
            for t in &self.opts.tags {
                self.say(format_args!("Successfully tagged {t}"));
            }
        }
        Ok(image)
    }
}
