//! What a component is compiled from: the component without the exports of its core modules that
//! nothing in it uses, and without their function names. A componentized Python policy links
//! libpython and its runtime as libraries, each exporting every symbol (4,198 exports in all), of
//! which the component uses 1,773. wasmtime keeps every export of every module: their names are
//! deserialized at each load, and an exported function needs a trampoline and a function
//! reference. Without them a run with a Python policy took 0.9 ms less (see plugins/README.md).
//!
//! An export of a core module is seen only by the component that instantiates the module: by an
//! alias of an instance's export, or by another module that is instantiated with the instance as
//! an argument and imports from it. Those are kept. A component that uses its modules in other
//! ways (a module imported, exported, aliased or handed to a nested component) is left whole.
//! wasmtime validates what it compiles, so an export removed wrongly would be a compile error,
//! never a changed behaviour.
//!
//! A module's `name` section (its functions' names, for debuggers and wasm backtraces) is dropped
//! with them: wasmtime keeps a record of every named function in what it compiles and reads them
//! all at each load, about 13,000 for a Python policy (300 KB of names). sbx never shows a wasm
//! backtrace (a trap is reported by its kind, a Python or JavaScript error by the plugin's own
//! traceback), and a run with a Python policy took 0.1-0.2 ms less without them (see the commit).
//! Rust plugins are built stripped already.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use wasm_encoder::{Encode, RawSection};
use wasmparser::{
    Chunk, ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef,
    Encoding, Instance, Parser, Payload,
};

/// `component` without the exports of its core modules that nothing uses and without their
/// function names; `None` when it has neither, is not a component that parses, or uses its modules
/// in ways this does not follow.
pub fn trimmed(component: &[u8]) -> Option<Vec<u8>> {
    let top = Top::scan(component).ok()??;
    let used = top.used(component).ok()?;
    let mut out = wasm_encoder::Component::new();
    let mut removed = false;
    let mut module = 0u32;
    for (id, range) in &top.sections {
        let data = &component[range.clone()];
        if *id != wasm_encoder::ComponentSectionId::CoreModule as u8 {
            out.section(&RawSection { id: *id, data });
            continue;
        }
        let keep = used.get(&module);
        module += 1;
        match keep.map(|keep| trimmed_module(data, keep)) {
            Some(Ok(Some(trimmed))) => {
                removed = true;
                out.section(&RawSection { id: *id, data: &trimmed });
            }
            Some(Err(_)) => return None,
            _ => {
                out.section(&RawSection { id: *id, data });
            }
        }
    }
    removed.then(|| out.finish())
}

/// The top level of a component, as far as its core modules go.
#[derive(Default)]
struct Top<'a> {
    /// Its sections in order: their ids and the ranges of their contents.
    sections: Vec<(u8, Range<usize>)>,
    /// Its core modules, by index: their ranges.
    modules: Vec<Range<usize>>,
    /// Its core instances, by index: the module each instantiates (`None`: made of exports).
    instances: Vec<Option<u32>>,
    /// The module instantiated, the name of an argument and the instance given as that argument.
    args: Vec<(u32, &'a str, u32)>,
    /// Exports of instances the component aliases: the instance and the name.
    aliased: Vec<(u32, &'a str)>,
}

impl<'a> Top<'a> {
    /// `None` where the component's modules are used in ways [`Top::used`] does not follow.
    fn scan(component: &'a [u8]) -> wasmparser::Result<Option<Top<'a>>> {
        let mut top = Top::default();
        let mut parser = Parser::new(0);
        let mut at = 0;
        loop {
            let Chunk::Parsed { consumed, payload } = parser.parse(&component[at..], true)? else {
                return Ok(None);
            };
            // The parser leaves a nested module or component's bytes to the caller: passed over below.
            at += consumed;
            if let Some(section) = payload.as_section() {
                top.sections.push(section);
            }
            match payload {
                Payload::Version { encoding: Encoding::Component, .. } => {}
                Payload::Version { .. } => return Ok(None),
                Payload::ModuleSection { unchecked_range, .. } => {
                    at += unchecked_range.len();
                    top.modules.push(unchecked_range);
                }
                Payload::ComponentSection { unchecked_range, .. } => {
                    if aliases_outer_module(&component[unchecked_range.clone()])? {
                        return Ok(None);
                    }
                    at += unchecked_range.len();
                }
                Payload::InstanceSection(reader) => {
                    for instance in reader {
                        match instance? {
                            Instance::Instantiate { module_index, args } => {
                                top.args.extend(args.iter().map(|a| (module_index, a.name, a.index)));
                                top.instances.push(Some(module_index));
                            }
                            Instance::FromExports(_) => top.instances.push(None),
                        }
                    }
                }
                Payload::ComponentAliasSection(reader) => {
                    for alias in reader {
                        match alias? {
                            ComponentAlias::CoreInstanceExport { instance_index, name, .. } => {
                                top.aliased.push((instance_index, name))
                            }
                            ComponentAlias::InstanceExport { kind: ComponentExternalKind::Module, .. }
                            | ComponentAlias::Outer { kind: ComponentOuterAliasKind::CoreModule, .. } => {
                                return Ok(None);
                            }
                            _ => {}
                        }
                    }
                }
                Payload::ComponentImportSection(reader) => {
                    for import in reader {
                        if matches!(import?.ty, ComponentTypeRef::Module(_)) {
                            return Ok(None);
                        }
                    }
                }
                Payload::ComponentExportSection(reader) => {
                    for export in reader {
                        if export?.kind == ComponentExternalKind::Module {
                            return Ok(None);
                        }
                    }
                }
                Payload::ComponentInstanceSection(reader) => {
                    for instance in reader {
                        let module = match instance? {
                            ComponentInstance::Instantiate { args, .. } => {
                                args.iter().any(|a| a.kind == ComponentExternalKind::Module)
                            }
                            ComponentInstance::FromExports(exports) => {
                                exports.iter().any(|e| e.kind == ComponentExternalKind::Module)
                            }
                        };
                        if module {
                            return Ok(None);
                        }
                    }
                }
                Payload::End(_) => return Ok(Some(top)),
                _ => {}
            }
        }
    }

    /// The names of each instantiated module's exports that the component uses, by module index.
    fn used(&self, component: &'a [u8]) -> wasmparser::Result<HashMap<u32, HashSet<&'a str>>> {
        let mut used: HashMap<u32, HashSet<&str>> = HashMap::new();
        for module in self.instances.iter().flatten() {
            used.entry(*module).or_default();
        }
        let module_of = |instance: u32| self.instances.get(instance as usize).copied().flatten();
        for (instance, name) in &self.aliased {
            if let Some(module) = module_of(*instance) {
                used.entry(module).or_default().insert(name);
            }
        }
        // Each instantiated module's imports by the argument they name, read once per module.
        let mut imports: HashMap<u32, HashMap<&str, Vec<&str>>> = HashMap::new();
        for (importer, arg, instance) in &self.args {
            let (Some(module), Some(range)) = (module_of(*instance), self.modules.get(*importer as usize)) else {
                continue;
            };
            let by_arg = match imports.entry(*importer) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(imports_by_arg(&component[range.clone()])?),
            };
            used.entry(module).or_default().extend(by_arg.get(arg).into_iter().flatten());
        }
        Ok(used)
    }
}

/// The imports of the core module `module`: their names by the module name they import from.
fn imports_by_arg(module: &[u8]) -> wasmparser::Result<HashMap<&str, Vec<&str>>> {
    let mut by_arg: HashMap<&str, Vec<&str>> = HashMap::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::ImportSection(reader) = payload? {
            for import in reader.into_imports() {
                let import = import?;
                by_arg.entry(import.module).or_default().push(import.name);
            }
            break;
        }
    }
    Ok(by_arg)
}

/// Whether a nested component (or one nested in it) aliases a core module of a component around it.
fn aliases_outer_module(nested: &[u8]) -> wasmparser::Result<bool> {
    for payload in Parser::new(0).parse_all(nested) {
        if let Payload::ComponentAliasSection(reader) = payload? {
            for alias in reader {
                if matches!(alias?, ComponentAlias::Outer { kind: ComponentOuterAliasKind::CoreModule, .. }) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// The core module `module` with only the exports named in `keep` and no `name` section; `None`
/// when it has neither other exports nor names.
fn trimmed_module(module: &[u8], keep: &HashSet<&str>) -> wasmparser::Result<Option<Vec<u8>>> {
    let mut out = wasm_encoder::Module::new();
    let mut removed = false;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        let Some((id, range)) = payload.as_section() else { continue };
        if matches!(&payload, Payload::CustomSection(c) if c.name() == "name") {
            removed = true;
            continue;
        }
        let Payload::ExportSection(reader) = payload else {
            out.section(&RawSection { id, data: &module[range] });
            continue;
        };
        let exports = reader.into_iter_with_offsets().collect::<wasmparser::Result<Vec<_>>>()?;
        let mut kept = 0u32;
        let mut entries = Vec::new();
        for (n, (start, export)) in exports.iter().enumerate() {
            let end = exports.get(n + 1).map_or(range.end, |(next, _)| *next);
            if keep.contains(export.name) {
                kept += 1;
                entries.extend_from_slice(&module[*start..end]);
            } else {
                removed = true;
            }
        }
        let mut data = Vec::new();
        kept.encode(&mut data);
        data.extend(entries);
        out.section(&RawSection { id, data: &data });
    }
    Ok(removed.then(|| out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        Alias, CodeSection, Component, ComponentAliasSection, ComponentExportKind, ComponentExportSection,
        ComponentOuterAliasKind as OuterKind, CustomSection, ExportKind, ExportSection, Function, FunctionSection,
        ImportSection, InstanceSection, Module, ModuleArg, ModuleSection, NameMap, NameSection, NestedComponentSection,
        TypeSection,
    };

    /// A module exporting functions named `exports` (all of type `() -> ()`).
    fn exporter(exports: &[&str]) -> Module {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        let mut section = ExportSection::new();
        for (i, name) in exports.iter().enumerate() {
            funcs.function(0);
            let mut body = Function::new([]);
            body.instructions().end();
            code.function(&body);
            section.export(name, ExportKind::Func, i as u32);
        }
        let mut module = Module::new();
        module.section(&types).section(&funcs).section(&section).section(&code);
        module
    }

    /// A module importing `name` from the module argument `from`.
    fn importer(from: &str, name: &str) -> Module {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut imports = ImportSection::new();
        imports.import(from, name, wasm_encoder::EntityType::Function(0));
        let mut module = Module::new();
        module.section(&types).section(&imports);
        module
    }

    /// Module 0 exports f, g and h; module 1 is instantiated with module 0's instance as "lib" and
    /// imports f from it; the component aliases g. Then `extra` is appended.
    fn component(extra: impl FnOnce(&mut Component)) -> Vec<u8> {
        component_of(exporter(&["f", "g", "h"]), extra)
    }

    /// [`component`] with `lib` as module 0.
    fn component_of(lib: Module, extra: impl FnOnce(&mut Component)) -> Vec<u8> {
        let mut c = Component::new();
        c.section(&ModuleSection(&lib));
        c.section(&ModuleSection(&importer("lib", "f")));
        let mut instances = InstanceSection::new();
        instances.instantiate(0, Vec::<(&str, ModuleArg)>::new());
        instances.instantiate(1, [("lib", ModuleArg::Instance(0))]);
        c.section(&instances);
        let mut aliases = ComponentAliasSection::new();
        aliases.alias(Alias::CoreInstanceExport { instance: 0, kind: ExportKind::Func, name: "g" });
        c.section(&aliases);
        extra(&mut c);
        c.finish()
    }

    fn validate(bytes: &[u8]) {
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(bytes).expect("valid");
    }

    /// The export names of each core module of a component, in order.
    fn exports_of(component: &[u8]) -> Vec<Vec<String>> {
        let mut modules = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            match payload.unwrap() {
                Payload::ModuleSection { .. } => modules.push(Vec::new()),
                Payload::ExportSection(reader) => {
                    let names = reader.into_iter().map(|e| e.unwrap().name.to_string());
                    modules.last_mut().unwrap().extend(names);
                }
                _ => {}
            }
        }
        modules
    }

    #[test]
    fn removes_what_is_neither_aliased_nor_imported() {
        let before = component(|_| {});
        validate(&before);
        assert_eq!(exports_of(&before)[0], ["f", "g", "h"]);
        let after = trimmed(&before).expect("h is unused");
        validate(&after);
        assert_eq!(exports_of(&after), [vec!["f", "g"], vec![]]);
        assert!(trimmed(&after).is_none(), "nothing left to remove");
    }

    /// The names of each core module's custom sections, in order.
    fn custom_sections_of(component: &[u8]) -> Vec<Vec<String>> {
        let mut modules = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            match payload.unwrap() {
                Payload::ModuleSection { .. } => modules.push(Vec::new()),
                Payload::CustomSection(c) => modules.last_mut().unwrap().push(c.name().to_string()),
                _ => {}
            }
        }
        modules
    }

    #[test]
    fn removes_function_names_and_keeps_other_custom_sections() {
        let mut names = NameMap::new();
        names.append(0, "f");
        let mut section = NameSection::new();
        section.functions(&names);
        let mut lib = exporter(&["f", "g"]);
        lib.section(&section).section(&CustomSection { name: "producers-like".into(), data: b"x".into() });
        let before = component_of(lib, |_| {});
        validate(&before);
        assert_eq!(custom_sections_of(&before)[0], ["name", "producers-like"]);
        let after = trimmed(&before).expect("the names go though every export is used");
        validate(&after);
        assert_eq!(custom_sections_of(&after)[0], ["producers-like"]);
        assert_eq!(exports_of(&after)[0], ["f", "g"]);
        assert!(trimmed(&after).is_none(), "nothing left to remove");
    }

    #[test]
    fn leaves_components_whose_modules_are_used_elsewhere() {
        let exported = component(|c| {
            let mut exports = ComponentExportSection::new();
            exports.export("m", ComponentExportKind::Module, 0, None);
            c.section(&exports);
        });
        assert!(trimmed(&exported).is_none());
        let nested = component(|c| {
            let mut inner = Component::new();
            let mut aliases = ComponentAliasSection::new();
            aliases.alias(Alias::Outer { kind: OuterKind::CoreModule, count: 1, index: 0 });
            inner.section(&aliases);
            c.section(&NestedComponentSection(&inner));
        });
        assert!(trimmed(&nested).is_none());
    }

    #[test]
    fn leaves_what_is_not_a_component() {
        assert!(trimmed(&exporter(&["f"]).finish()).is_none());
        assert!(trimmed(b"\0asm\x0d\0\x01\0\x01").is_none());
        assert!(trimmed(b"not wasm").is_none());
    }
}
