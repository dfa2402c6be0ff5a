//! Hostile plugins that no toolchain makes: a plugin built from this repository, its main core
//! module edited. Each edit keeps every index the component uses (types, functions and sections
//! are only added), so the plugin still links and exports what the WIT says.

use anyhow::{Context, Result, bail};
use std::ops::Range;
use wasm_encoder::{Encode, Instruction, RawSection};
use wasmparser::{BinaryReader, Parser, Payload, TypeRef};

/// `component` with a start function in its biggest core module that makes an indirect call
/// through a function type that is not final (the GC proposal's subtyping, which wasmtime accepts
/// without its garbage collector). The function in the table has another type, so the call needs
/// wasmtime's subtype check, which wasmtime before 48.0.9 left out of builds without the `gc`
/// feature (sbx's): the check aborted the host process (GHSA-rc4p-x33f-vpr2). The check now
/// answers no, and the call traps.
pub fn with_subtype_check_at_start(component: &[u8]) -> Result<Vec<u8>> {
    let mut sections = Vec::new();
    let mut modules = Vec::new();
    let mut parser = Parser::new(0);
    let mut at = 0;
    loop {
        let wasmparser::Chunk::Parsed { consumed, payload } = parser.parse(&component[at..], true)? else {
            bail!("the component ends early");
        };
        at += consumed;
        if let Some((id, range)) = payload.as_section() {
            if id == wasm_encoder::ComponentSectionId::CoreModule as u8 {
                modules.push(sections.len());
            }
            sections.push((id, range));
        }
        match payload {
            // The parser leaves a nested module or component's bytes to the caller.
            Payload::ModuleSection { unchecked_range, .. } | Payload::ComponentSection { unchecked_range, .. } => {
                at += unchecked_range.len()
            }
            Payload::End(_) => break,
            _ => {}
        }
    }
    let main = *modules.iter().max_by_key(|&&i| sections[i].1.len()).context("the component has no core module")?;
    let mut out = wasm_encoder::Component::new();
    for (i, (id, range)) in sections.iter().enumerate() {
        let data = &component[range.clone()];
        match i == main {
            true => out.section(&RawSection { id: *id, data: &subtype_check_at_start(data)? }),
            false => out.section(&RawSection { id: *id, data }),
        };
    }
    Ok(out.finish())
}

fn subtype_check_at_start(module: &[u8]) -> Result<Vec<u8>> {
    let (mut types, mut imported_funcs, mut defined_funcs) = (0u32, 0u32, 0u32);
    let mut sections: Vec<(u8, Range<usize>)> = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        match &payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    types += u32::try_from(group?.types().len())?;
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    imported_funcs += u32::from(matches!(import?.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)));
                }
            }
            Payload::FunctionSection(reader) => defined_funcs = reader.count(),
            Payload::StartSection { .. } => bail!("the module has a start function already"),
            _ => {}
        }
        sections.extend(payload.as_section());
    }
    let non_final = types;
    let start = imported_funcs + defined_funcs;
    // (type (sub (func))): not final, no supertype, no parameters or results.
    let new_type = [0x50, 0x00, 0x60, 0x00, 0x00];
    let mut new_func = Vec::new();
    non_final.encode(&mut new_func);
    // Table 0's element 1: the first function a Rust module puts in its table, whose type is final.
    let mut body = wasm_encoder::Function::new([]);
    body.instruction(&Instruction::I32Const(1));
    body.instruction(&Instruction::CallIndirect { type_index: non_final, table_index: 0 });
    body.instruction(&Instruction::End);
    let mut new_body = Vec::new();
    body.encode(&mut new_body);

    let mut out = wasm_encoder::Module::new();
    let mut started = false;
    for (id, range) in sections {
        let data = &module[range];
        // The start section goes after the exports, before the elements, data count, code and data.
        if !started && matches!(id, 9..=12) {
            out.section(&wasm_encoder::StartSection { function_index: start });
            started = true;
        }
        let appended = match id {
            1 => Some(&new_type[..]),
            3 => Some(&new_func[..]),
            10 => Some(&new_body[..]),
            _ => None,
        };
        match appended {
            Some(entry) => out.section(&RawSection { id, data: &with_entry(data, entry)? }),
            None => out.section(&RawSection { id, data }),
        };
    }
    Ok(out.finish())
}

/// A vector section's contents with one more entry at its end.
fn with_entry(section: &[u8], entry: &[u8]) -> Result<Vec<u8>> {
    let mut reader = BinaryReader::new(section, 0);
    let count = reader.read_var_u32()?;
    let mut out = Vec::new();
    (count + 1).encode(&mut out);
    out.extend_from_slice(&section[reader.original_position()..]);
    out.extend_from_slice(entry);
    Ok(out)
}
