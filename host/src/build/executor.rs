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
use super::transfer::{self, Item, Plan};
use super::working::Working;
use crate::container::admission;
use crate::dockerfile::args::{self, BuildArgs};
use crate::dockerfile::config::{self as dconfig, Configurer};
use crate::dockerfile::words;
use crate::dockerfile::{Command, Dockerfile, Instruction, Source, Stage, Step};
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
        let lower = name.to_lowercase();
        self.names[..before]
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
    }
}

/// The stages the target needs: itself and those its FROM lines and `COPY --from` name, in order.
/// Pure.
fn needed(dockerfile: &Dockerfile, bases: &[String], target: usize) -> Vec<bool> {
    let names: Vec<Option<String>> = dockerfile.stages.iter().map(|s| s.name.clone()).collect();
    let find = |name: &str, before: usize| {
        let lower = name.to_lowercase();
        names[..before]
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
    };
    let mut need = vec![false; dockerfile.stages.len()];
    need[target] = true;
    for i in (0..=target).rev() {
        if !need[i] {
            continue;
        }
        if let Some(j) = find(&bases[i], i) {
            need[j] = true;
        }
        for step in &dockerfile.stages[i].steps {
            if let Instruction::Copy(t) | Instruction::Add(t) = &step.instruction
                && let Some((_, Some(from))) = t.flags.iter().find(|(k, _)| k == "from")
                && let Some(j) = find(from, i)
            {
                need[j] = true;
            }
        }
    }
    need
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
    let context = match &opts.context {
        ContextArg::Dir(path) => Tree::context_dir(path)?,
        ContextArg::Stdin => Tree::context_tar(store, std::io::stdin().lock())?,
    };
    let (file, text) = read_dockerfile(&context, opts)?;
    let dockerfile = crate::dockerfile::parse(&file, &text)?;
    let mut args = BuildArgs::new(opts.build_args.clone());
    for step in &dockerfile.global_args {
        args.declare_global(&step.text.trim_start()[3..]).map_err(|m| BuildError::At {
            file: file.clone(),
            line: step.line,
            message: m,
        })?;
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
    let need = needed(&dockerfile, &bases, target);
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

/// The Dockerfile: `-f`'s (a host path, or in a tarball context a path in it), else the
/// context's `Dockerfile` or `Containerfile`.
fn read_dockerfile(context: &Tree, opts: &BuildOptions) -> Result<(String, String), BuildError> {
    let text = |bytes: Vec<u8>, name: &str| {
        String::from_utf8(bytes).map_err(|_| BuildError::Usage(format!("{name} is not UTF-8 text")))
    };
    match (&opts.file, &opts.context) {
        (Some(path), ContextArg::Dir(_)) => {
            let shown = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|source| BuildError::Context { path: path.clone(), source })?;
            Ok((shown.clone(), text(bytes, &shown)?))
        }
        (Some(path), ContextArg::Stdin) => {
            let shown = path.display().to_string();
            match context.read(&shown).map_err(BuildError::Usage)? {
                Some(bytes) => Ok((shown.clone(), text(bytes, &shown)?)),
                None => Err(BuildError::Usage(format!("the context sent on stdin has no {shown}"))),
            }
        }
        (None, _) => {
            for name in ["Dockerfile", "Containerfile"] {
                if let Some(bytes) = context.read(name).map_err(BuildError::Usage)? {
                    return Ok((name.to_string(), text(bytes, name)?));
                }
            }
            Err(BuildError::Usage(
                "the build context has no Dockerfile or Containerfile: write one, or name it with -f".into(),
            ))
        }
    }
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
                let plan = self.transfer_plan(t, add, tree, &working, &env_or_arg, &at)?;
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
                let argv = run_argv(command, heredocs, step.text.lines().next().unwrap_or(""), &settings);
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
                overrides.annotations.insert("io.sbx.build.step".into(), format!("{}/{}", self.step, self.total));
                overrides.annotations.insert("io.sbx.build.instruction".into(), at.first_line());
                let what = format!("{}:{} ({})", self.file, step.line, at.first_line());
                let lowers = parent.layers.iter().map(|l| self.store.layer_diff(&l.diff_id)).collect();
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
                let layers: Vec<PathBuf> = working.layers.iter().map(|l| self.store.layer_diff(&l.diff_id)).collect();
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
        let dirs: Vec<PathBuf> = layers.iter().map(|l| self.store.layer_diff(&l.diff_id)).collect();
        transfer::image_tree(self.store, &dirs).map(Some).map_err(|m| at.error(m))
    }

    fn transfer_plan<'t>(
        &self,
        t: &crate::dockerfile::Transfer,
        add: bool,
        tree: &'t Tree,
        working: &Working,
        lookup: &dyn Fn(&str) -> Option<String>,
        at: &At,
    ) -> Result<Plan<'t>, BuildError> {
        let keyword = if add { "ADD" } else { "COPY" };
        // The context's files are root's; an image's keep their owners, as BuildKit copies them.
        let from_image = t.flags.iter().any(|(k, _)| k == "from");
        let mut owner = (!from_image).then_some((0, 0));
        let mut mode = None;
        for (flag, value) in &t.flags {
            let value = value.as_deref().unwrap_or("");
            match flag.as_str() {
                "from" | "link" => {}
                "chown" => {
                    let who = words::word(value, lookup).map_err(|m| at.error(m))?;
                    let dirs: Vec<PathBuf> = working.layers.iter().map(|l| self.store.layer_diff(&l.diff_id)).collect();
                    let user = crate::container::layers::resolve_user(&dirs, &who, &[])
                        .map_err(|e| at.error(format!("--chown={who}: {e}")))?;
                    owner = Some((user.uid, user.gid));
                }
                "chmod" => {
                    let bits = u32::from_str_radix(value, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| at.error(format!("--chmod={value} is not an octal mode such as 755")))?;
                    mode = Some(bits);
                }
                other => return Err(at.error(format!("{keyword} --{other} is not supported by sbx build"))),
            }
        }
        let mut items = Vec::new();
        for source in &t.sources {
            match source {
                Source::Heredoc(h) => items.push(Item::Text(h.body.clone().into_bytes())),
                Source::Path(p) => {
                    let p = words::word(p, lookup).map_err(|m| at.error(m))?;
                    if add && is_url(&p) {
                        return Err(at.error(format!(
                            "ADD {p}: sbx build does not download: fetch it in a RUN step (wget, curl) or put it in the context and COPY it"
                        )));
                    }
                    let paths = tree.expand(&p).map_err(|m| at.error(m))?;
                    if paths.is_empty() {
                        return Err(at.error(format!(
                            "{p}: no file of the build context matches it (or .dockerignore leaves it out)"
                        )));
                    }
                    for path in paths {
                        let found =
                            tree.find(&path).map_err(|m| at.error(m))?.filter(|f| !tree.excludes(&f.path, f.is_dir));
                        let found = found.ok_or_else(|| {
                            at.error(format!("{path}: not found in the build context (or .dockerignore leaves it out)"))
                        })?;
                        let archive = add && !found.is_dir && transfer::is_archive(&found).map_err(|m| at.error(m))?;
                        items.push(if archive { Item::Archive(found) } else { Item::Found(found) });
                    }
                }
            }
        }
        let mut dest = words::word(&t.dest, lookup).map_err(|m| at.error(m))?;
        // `.` and `dir/.` name directories, as `dir/` does.
        if dest == "." || dest.ends_with("/.") {
            dest.pop();
        }
        if !dest.starts_with('/') {
            let workdir = working.settings()["WorkingDir"].as_str().unwrap_or("/").trim_end_matches('/').to_string();
            dest = format!("{workdir}/{dest}");
        }
        if items.len() > 1 && !dest.ends_with('/') {
            return Err(at.error(format!(
                "{keyword} of several sources needs a directory as its destination, written with a trailing /: {dest}/"
            )));
        }
        Ok(Plan { tree, items, dest, owner, mode })
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

/// A source ADD would download.
fn is_url(source: &str) -> bool {
    ["http://", "https://", "git@", "git://"].iter().any(|p| source.starts_with(p))
}

/// A RUN's argv: the exec form as written; the shell form through the stage's SHELL. With
/// heredocs (`RUN <<EOF [command]`, the form the parser reads), as BuildKit runs them: a heredoc
/// alone is the script (one that starts with `#!` is run as a file, by its interpreter); after a
/// command, the shell gets the line from `<<` on (`first_line`, as written) with the heredocs'
/// text, each ended by its word, as a shell reads heredocs.
fn run_argv(
    command: &Command,
    heredocs: &[crate::dockerfile::Heredoc],
    first_line: &str,
    settings: &serde_json::Value,
) -> Vec<String> {
    let (Command::Shell(rest), Some(first)) = (command, heredocs.first()) else {
        return dconfig::argv(command, settings);
    };
    let script = if !rest.trim().is_empty() {
        let line = first_line.find("<<").map_or(first_line, |i| &first_line[i..]);
        let mut s = format!("{line}\n");
        for (h, w) in heredocs.iter().zip(heredoc_words(line)) {
            s.push_str(&h.body);
            if !h.body.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&w);
            s.push('\n');
        }
        s
    } else if first.body.starts_with("#!") {
        let end = "SBX_BUILD_SCRIPT_END";
        format!(
            "f=$(mktemp) && cat > \"$f\" <<'{end}' && chmod +x \"$f\" && {{ \"$f\"; r=$?; rm -f \"$f\"; exit $r; }}\n{}{}{end}\n",
            first.body,
            if first.body.ends_with('\n') { "" } else { "\n" }
        )
    } else {
        first.body.clone()
    };
    dconfig::argv(&Command::Shell(script), settings)
}

/// The words that end a command line's heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order. Pure.
fn heredoc_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("<<") {
        let after = rest[i + 2..].trim_start_matches('-');
        let word: String =
            after.trim_start_matches(['"', '\'']).chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !word.is_empty() {
            out.push(word);
        }
        rest = &rest[i + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stages_the_target_needs_are_built() {
        let d = crate::dockerfile::parse(
            "Dockerfile",
            "FROM busybox AS tools\nRUN true\nFROM busybox AS unused\nRUN true\nFROM tools AS build\nRUN make\n\
             FROM scratch\nCOPY --from=build /out /\nFROM busybox AS other\n",
        )
        .unwrap();
        let bases: Vec<String> = d.stages.iter().map(|s| s.base.clone()).collect();
        assert_eq!(needed(&d, &bases, 3), [true, false, true, true, false]);
        assert_eq!(needed(&d, &bases, 1), [false, true, false, false, false]);
        assert_eq!(needed(&d, &bases, 4), [false, false, false, false, true]);
    }

    #[test]
    fn a_run_with_heredocs_gets_them_as_a_shell_reads_them() {
        let settings = serde_json::json!({});
        let doc = |body: &str| crate::dockerfile::Heredoc { body: body.into(), expand: true };
        let only = run_argv(&Command::Shell(String::new()), &[doc("echo one\necho two\n")], "RUN <<EOF", &settings);
        assert_eq!(only, ["/bin/sh", "-c", "echo one\necho two\n"]);
        let fed = run_argv(&Command::Shell(" python3".into()), &[doc("print(1)\n")], "RUN <<'END' python3", &settings);
        assert_eq!(fed, ["/bin/sh", "-c", "<<'END' python3\nprint(1)\nEND\n"]);
        let script =
            run_argv(&Command::Shell(String::new()), &[doc("#!/bin/awk -f\nBEGIN {}\n")], "RUN <<EOF", &settings);
        assert!(script[2].contains("chmod +x") && script[2].contains("#!/bin/awk -f\nBEGIN {}\n"), "{script:?}");
        assert_eq!(heredoc_words("a <<A && b <<-\"B\""), ["A", "B"]);
        let exec = run_argv(&Command::Exec(vec!["/bin/true".into()]), &[], "RUN [\"/bin/true\"]", &settings);
        assert_eq!(exec, ["/bin/true"]);
    }
}
