//! Native field arithmetic for circom's witness calculator.
//!
//! circom's `.wasm` does its BN254 arithmetic in wasm functions of its own, interpreted by wasmi: one Montgomery
//! multiplication runs about a thousand wasm instructions, where native code takes a few dozen cycles.
//! [`accelerate`] rewrites the module so that the hot ones call host imports (module `kalypso`), which
//! [`define`] implements with arkworks' `Fr`:
//!
//! - `Fr_F1m_mul`, `Fr_F1m_square`, `Fr_F1m_add`, `Fr_F1m_sub`, `Fr_F1m_toMontgomery`,
//!   `Fr_F1m_fromMontgomery` (`wasmcurves`' `build_f1m.js`): Montgomery-form operations on 32-byte values. circom and arkworks keep BN254 scalars in the same Montgomery form
//!   (`x·2²⁵⁶ mod r`, little-endian 64-bit limbs), and both return fully reduced values for reduced inputs.
//! - `Fr_mul`, `Fr_add`, `Fr_sub` (circom's `fr-code`): the same operations on circom's field *elements*,
//!   `short: i32 ‖ type: u32 ‖ long: [u8; 32]`, where the type's top byte says whether the long part holds
//!   the value (`0x80`) and whether it is in Montgomery form (`0x40`). The host versions follow circom's
//!   branches: the form the result takes, the operand converted to Montgomery form in place (a side effect
//!   the generated code can see), small results kept short.
//!
//! Inputs are reduced first, so a non-reduced input gives the same residue circom would.
//!
//! The rewrite: the new imports come after the module's own, so every function index at or above the
//! old import count moves up by the number of new imports — in `call` and `ref.func` instructions, exports,
//! the start function and element segments. The function names (the `name` section) are what finds the
//! functions; the section is dropped from the result, as its indices would be stale. A module that does not
//! look like circom's (names missing, another signature, a construct the rewrite does not handle) is left
//! as it is: [`accelerate`] returns `None` and the interpreter runs the wasm arithmetic.

use ark_ff::{BigInt, BigInteger, Field, PrimeField};
use wasmi::{Caller, Linker};
use wasmparser::{
    BinaryReader, ElementItems, ElementKind, ExternalKind, FunctionBody, KnownCustom, Name,
    Operator, Parser, Payload, TypeRef, ValType,
};

use crate::{Error, Fr, Result, witness::HostState};

/// Module name of the host imports.
const HOST_MODULE: &str = "kalypso";

/// The functions replaced: circom's name, the host import's name, the parameter count (all `i32`
/// pointers, no results).
const REPLACED: [(&str, &str, usize); 9] = [
    ("Fr_F1m_mul", "f1m_mul", 3),
    ("Fr_F1m_toMontgomery", "f1m_to_montgomery", 2),
    ("Fr_F1m_fromMontgomery", "f1m_from_montgomery", 2),
    ("Fr_F1m_square", "f1m_square", 2),
    ("Fr_F1m_add", "f1m_add", 3),
    ("Fr_F1m_sub", "f1m_sub", 3),
    ("Fr_mul", "fr_mul", 3),
    ("Fr_add", "fr_add", 3),
    ("Fr_sub", "fr_sub", 3),
];

/// Defines the `kalypso` imports of an [`accelerate`]d module.
pub(crate) fn define(linker: &mut Linker<HostState>) -> Result<()> {
    let define_err =
        |e: wasmi::errors::LinkerError| Error::Wasm(format!("defining the field imports: {e}"));
    // Every import takes two or three `i32` addresses and works on the instance's memory.
    let two = |op: TwoAddresses| {
        move |mut caller: Caller<'_, HostState>, x: i32, r: i32| {
            with_memory(&mut caller, |m| op(m, x, r))
        }
    };
    let three = |op: ThreeAddresses| {
        move |mut caller: Caller<'_, HostState>, a: i32, b: i32, c: i32| {
            with_memory(&mut caller, |m| op(m, a, b, c))
        }
    };
    let unary: [(&str, TwoAddresses); 3] = [
        ("f1m_square", |m, x, r| {
            let value = m.montgomery(x)?.square();
            m.set_raw(r, value.0)
        }),
        ("f1m_to_montgomery", |m, x, r| {
            let value = m.normal(x)?;
            m.set_raw(r, value.0)
        }),
        ("f1m_from_montgomery", |m, x, r| {
            let value = m.montgomery(x)?;
            m.set_raw(r, value.into_bigint())
        }),
    ];
    let binary: [(&str, ThreeAddresses); 6] = [
        ("f1m_mul", |m, x, y, r| m.f1m(x, y, r, |a, b| a * b)),
        ("f1m_add", |m, x, y, r| m.f1m(x, y, r, |a, b| a + b)),
        ("f1m_sub", |m, x, y, r| m.f1m(x, y, r, |a, b| a - b)),
        ("fr_mul", |m, r, a, b| m.fr_mul(r, a, b)),
        ("fr_add", |m, r, a, b| m.fr_add(r, a, b)),
        ("fr_sub", |m, r, a, b| m.fr_sub(r, a, b)),
    ];
    for (name, op) in unary {
        linker
            .func_wrap(HOST_MODULE, name, two(op))
            .map_err(define_err)?;
    }
    for (name, op) in binary {
        linker
            .func_wrap(HOST_MODULE, name, three(op))
            .map_err(define_err)?;
    }
    Ok(())
}

type Trap<T> = std::result::Result<T, wasmi::Error>;

/// A host import of two addresses (operand, result).
type TwoAddresses = fn(&mut Mem<'_>, i32, i32) -> Trap<()>;
/// A host import of three addresses (two operands and the result, in circom's order for the function).
type ThreeAddresses = fn(&mut Mem<'_>, i32, i32, i32) -> Trap<()>;

/// Runs `f` on the instance's memory. An address outside it traps, as the wasm's own access would.
fn with_memory(
    caller: &mut Caller<'_, HostState>,
    f: impl FnOnce(&mut Mem<'_>) -> Trap<()>,
) -> Trap<()> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| wasmi::Error::new("field import called before the memory was bound"))?;
    f(&mut Mem(memory.data_mut(caller)))
}

/// Type bits of a circom field element (its byte 7): the long part holds the value.
const LONG: u8 = 0x80;
/// Type bits: the long part is in Montgomery form.
const MONTGOMERY: u8 = 0x40;
/// Type words circom writes: long in Montgomery form, long in normal form, short with its Montgomery form in
/// the long part, short.
const TYPE_LONG_MONTGOMERY: u32 = 0xc000_0000;
const TYPE_LONG: u32 = 0x8000_0000;
const TYPE_SHORT_MONTGOMERY: u32 = 0x4000_0000;
const TYPE_SHORT: u32 = 0;

/// The module's linear memory, as circom's field code sees it.
struct Mem<'a>(&'a mut [u8]);

impl Mem<'_> {
    fn bytes(&mut self, ptr: i32, len: usize) -> Trap<&mut [u8]> {
        let start = ptr as u32 as usize;
        self.0
            .get_mut(start..start + len)
            .ok_or_else(|| wasmi::Error::new("field import: address out of bounds"))
    }

    /// The 32-byte value at `ptr`, reduced below the modulus.
    fn raw(&mut self, ptr: i32) -> Trap<BigInt<4>> {
        let bytes = self.bytes(ptr, 32)?;
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
            *limb = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        let mut raw = BigInt(limbs);
        while raw >= Fr::MODULUS {
            raw.sub_with_borrow(&Fr::MODULUS);
        }
        Ok(raw)
    }

    fn set_raw(&mut self, ptr: i32, raw: BigInt<4>) -> Trap<()> {
        let bytes = self.bytes(ptr, 32)?;
        for (chunk, limb) in bytes.chunks_exact_mut(8).zip(raw.0) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        Ok(())
    }

    /// The field element whose Montgomery form is at `ptr`.
    fn montgomery(&mut self, ptr: i32) -> Trap<Fr> {
        Ok(Fr::new_unchecked(self.raw(ptr)?))
    }

    /// The field element whose normal form is at `ptr`.
    fn normal(&mut self, ptr: i32) -> Trap<Fr> {
        Ok(Fr::from_bigint(self.raw(ptr)?).expect("reduced below the modulus"))
    }

    fn flags(&mut self, element: i32) -> Trap<u8> {
        Ok(self.bytes(element.wrapping_add(7), 1)?[0])
    }

    fn short(&mut self, element: i32) -> Trap<i64> {
        let bytes = self.bytes(element, 4)?;
        Ok(i64::from(i32::from_le_bytes(
            bytes.try_into().expect("4 bytes"),
        )))
    }

    fn set_type(&mut self, element: i32, ty: u32) -> Trap<()> {
        self.bytes(element.wrapping_add(4), 4)?
            .copy_from_slice(&ty.to_le_bytes());
        Ok(())
    }

    /// Address of an element's long part.
    fn long(element: i32) -> i32 {
        element.wrapping_add(8)
    }

    /// An `Fr_F1m_*` operation: `op` of the Montgomery values at `x` and `y`, written at `r`.
    fn f1m(&mut self, x: i32, y: i32, r: i32, op: fn(Fr, Fr) -> Fr) -> Trap<()> {
        let value = op(self.montgomery(x)?, self.montgomery(y)?);
        self.set_raw(r, value.0)
    }

    /// `Fr_toMontgomery`: the element's value in Montgomery form in its long part, in place.
    fn convert_to_montgomery(&mut self, element: i32) -> Trap<()> {
        let flags = self.flags(element)?;
        if flags & MONTGOMERY != 0 {
            return Ok(());
        }
        let (value, ty) = if flags & LONG != 0 {
            (self.normal(Self::long(element))?, TYPE_LONG_MONTGOMERY)
        } else {
            (short_value(self.short(element)?), TYPE_SHORT_MONTGOMERY)
        };
        self.set_raw(Self::long(element), value.0)?;
        self.set_type(element, ty)
    }

    /// A result of two shorts: short when it fits 32 bits, else long in normal form (`Fr_rawCopyS2L`).
    fn set_small(&mut self, element: i32, value: i64) -> Trap<()> {
        match i32::try_from(value) {
            Ok(short) => {
                self.bytes(element, 4)?
                    .copy_from_slice(&short.to_le_bytes());
                self.set_type(element, TYPE_SHORT)
            }
            Err(_) => {
                self.set_type(element, TYPE_LONG)?;
                self.set_raw(Self::long(element), short_value(value).into_bigint())
            }
        }
    }

    /// `Fr_mul`.
    fn fr_mul(&mut self, r: i32, a: i32, b: i32) -> Trap<()> {
        let (fa, fb) = (self.flags(a)?, self.flags(b)?);
        let (la, lb) = (fa & LONG != 0, fb & LONG != 0);
        let (am, bm) = (fa & MONTGOMERY != 0, fb & MONTGOMERY != 0);
        if !la && !lb {
            let product = self.short(a)? * self.short(b)?;
            return self.set_small(r, product);
        }
        if la && lb && !am && !bm {
            // Two normal forms: circom multiplies by R³ after, which gives the Montgomery form of a·b.
            self.set_type(r, TYPE_LONG_MONTGOMERY)?;
            let product = self.normal(Self::long(a))? * self.normal(Self::long(b))?;
            return self.set_raw(Self::long(r), product.0);
        }
        // A short operand is converted to Montgomery form first, in place. Then `Fr_F1m_mul` of the two long
        // parts, x·y·R⁻¹: Montgomery × Montgomery stays Montgomery, Montgomery × normal gives normal.
        if !la {
            self.convert_to_montgomery(a)?;
        }
        if !lb {
            self.convert_to_montgomery(b)?;
        }
        let both = (am || !la) && (bm || !lb);
        self.set_type(
            r,
            if both {
                TYPE_LONG_MONTGOMERY
            } else {
                TYPE_LONG
            },
        )?;
        let product = self.montgomery(Self::long(a))? * self.montgomery(Self::long(b))?;
        self.set_raw(Self::long(r), product.0)
    }

    /// An operand of `Fr_add`/`Fr_sub` in normal form, as a raw value in `Fr`'s clothing: its long part, or
    /// its short value.
    fn normal_operand(&mut self, element: i32, long: bool) -> Trap<Fr> {
        if long {
            self.montgomery(Self::long(element))
        } else {
            let short = short_value(self.short(element)?);
            Ok(Fr::new_unchecked(short.into_bigint()))
        }
    }

    /// `Fr_add`.
    fn fr_add(&mut self, r: i32, a: i32, b: i32) -> Trap<()> {
        self.additive(r, a, b, |x, y| x + y, i64::checked_add)
    }

    /// `Fr_sub`.
    fn fr_sub(&mut self, r: i32, a: i32, b: i32) -> Trap<()> {
        self.additive(r, a, b, |x, y| x - y, i64::checked_sub)
    }

    /// `Fr_add` and `Fr_sub`: the same branches, `op` on the two long parts (linear, so the same in either
    /// form as long as both share it) and `small` on two shorts.
    fn additive(
        &mut self,
        r: i32,
        a: i32,
        b: i32,
        op: fn(Fr, Fr) -> Fr,
        small: fn(i64, i64) -> Option<i64>,
    ) -> Trap<()> {
        let (fa, fb) = (self.flags(a)?, self.flags(b)?);
        let (la, lb) = (fa & LONG != 0, fb & LONG != 0);
        if !la && !lb {
            let value = small(self.short(a)?, self.short(b)?).expect("two i32 fit an i64");
            return self.set_small(r, value);
        }
        let (x, y) = if (la && fa & MONTGOMERY != 0) || (lb && fb & MONTGOMERY != 0) {
            // A long operand in Montgomery form: the other is converted, in place (a no-op on one that is).
            self.convert_to_montgomery(a)?;
            self.convert_to_montgomery(b)?;
            self.set_type(r, TYPE_LONG_MONTGOMERY)?;
            (
                self.montgomery(Self::long(a))?,
                self.montgomery(Self::long(b))?,
            )
        } else {
            // Long operands in normal form; a short one joins in its normal form (circom copies it to a
            // scratch slot).
            self.set_type(r, TYPE_LONG)?;
            (self.normal_operand(a, la)?, self.normal_operand(b, lb)?)
        };
        // The raw values pass through `Fr::new_unchecked` and back: addition and subtraction mod r are the
        // same on either form.
        self.set_raw(Self::long(r), op(x, y).0)
    }
}

/// A short value as a field element (`Fr_rawCopyS2L`: a negative value wraps around the modulus).
fn short_value(value: i64) -> Fr {
    if value >= 0 {
        Fr::from(value as u64)
    } else {
        -Fr::from(value.unsigned_abs())
    }
}

/// The module with circom's field functions calling the `kalypso` host imports, or `None` when `wasm` does
/// not have them (or has something the rewrite does not handle).
pub(crate) fn accelerate(wasm: &[u8]) -> Option<Vec<u8>> {
    Rewrite::plan(wasm).ok().flatten()?.apply(wasm).ok()
}

/// What the rewrite needs to know about the module.
struct Rewrite {
    /// Imported functions before the rewrite.
    func_imports: u32,
    /// The replaced functions, in the order their imports are appended.
    replaced: Vec<Replaced>,
}

/// A function of the module that becomes a call of a host import.
struct Replaced {
    /// Its index (old numbering).
    index: u32,
    /// Its type index (the import's too).
    ty: u32,
    /// The host import's name.
    import: &'static str,
    /// Its parameter count.
    params: usize,
}

/// Why a module is left as it is (malformed, or a construct the rewrite does not handle).
#[derive(Debug)]
struct Unsupported;

impl From<wasmparser::BinaryReaderError> for Unsupported {
    fn from(_: wasmparser::BinaryReaderError) -> Self {
        Self
    }
}

type ParseResult<T> = std::result::Result<T, Unsupported>;

impl Rewrite {
    fn plan(wasm: &[u8]) -> ParseResult<Option<Self>> {
        let mut types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
        let mut func_imports = 0u32;
        let mut func_types: Vec<u32> = Vec::new();
        let mut names: Vec<(u32, String)> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        let ty = ty?;
                        types.push((ty.params().to_vec(), ty.results().to_vec()));
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader {
                        if matches!(import?.ty, TypeRef::Func(_)) {
                            func_imports += 1;
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        func_types.push(ty?);
                    }
                }
                Payload::CustomSection(reader) => {
                    if let KnownCustom::Name(names_reader) = reader.as_known() {
                        for name in names_reader {
                            if let Name::Function(map) = name? {
                                for naming in map {
                                    let naming = naming?;
                                    names.push((naming.index, naming.name.to_owned()));
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let mut plan = Self {
            func_imports,
            replaced: Vec::new(),
        };
        for (name, import, params) in REPLACED {
            let Some(&(index, _)) = names.iter().find(|(_, n)| n == name) else {
                return Ok(None);
            };
            let Some(&ty) = index
                .checked_sub(func_imports)
                .and_then(|i| func_types.get(i as usize))
            else {
                return Ok(None);
            };
            let Some((ty_params, ty_results)) = types.get(ty as usize) else {
                return Ok(None);
            };
            if ty_params.len() != params
                || ty_params.iter().any(|p| *p != ValType::I32)
                || !ty_results.is_empty()
            {
                return Ok(None);
            }
            plan.replaced.push(Replaced {
                index,
                ty,
                import,
                params,
            });
        }
        Ok(Some(plan))
    }

    /// The new index of function `index`.
    fn remap(&self, index: u32) -> u32 {
        if index < self.func_imports {
            index
        } else {
            index + self.replaced.len() as u32
        }
    }

    fn apply(&self, wasm: &[u8]) -> ParseResult<Vec<u8>> {
        let mut out = wasm[..8].to_vec();
        let mut saw_imports = false;
        let mut reader = BinaryReader::new(&wasm[8..], 8);
        while !reader.eof() {
            let id = reader.read_u8()?;
            let size = reader.read_var_u32()? as usize;
            let start = reader.original_position();
            let body = &wasm[start..start + size];
            reader.read_bytes(size)?;
            let new_body = match id {
                0 => {
                    let mut custom = BinaryReader::new(body, start);
                    if custom.read_string()? == "name" {
                        continue;
                    }
                    body.to_vec()
                }
                2 => {
                    saw_imports = true;
                    self.imports_section(body, start)?
                }
                7 => self.exports_section(body, start)?,
                8 => {
                    let mut r = BinaryReader::new(body, start);
                    leb(self.remap(r.read_var_u32()?))
                }
                9 => self.elements_section(body, start)?,
                10 => self.code_section(body, start)?,
                _ => body.to_vec(),
            };
            if id == 3 && !saw_imports {
                // A module with no import section gets one before its function section.
                out.push(2);
                let imports = self.imports_section(&[0], 0)?;
                out.extend(leb(imports.len() as u32));
                out.extend(imports);
                saw_imports = true;
            }
            out.push(id);
            out.extend(leb(new_body.len() as u32));
            out.extend(new_body);
        }
        Ok(out)
    }

    fn imports_section(&self, body: &[u8], offset: usize) -> ParseResult<Vec<u8>> {
        let mut r = BinaryReader::new(body, offset);
        let count = r.read_var_u32()?;
        let mut out = leb(count + self.replaced.len() as u32);
        out.extend_from_slice(&body[r.original_position() - offset..]);
        for replaced in &self.replaced {
            out.extend(name_bytes(HOST_MODULE));
            out.extend(name_bytes(replaced.import));
            out.push(0x00);
            out.extend(leb(replaced.ty));
        }
        Ok(out)
    }

    fn exports_section(&self, body: &[u8], offset: usize) -> ParseResult<Vec<u8>> {
        let mut out = Vec::new();
        let reader = wasmparser::ExportSectionReader::new(BinaryReader::new(body, offset))?;
        out.extend(leb(reader.count()));
        for export in reader {
            let export = export?;
            out.extend(name_bytes(export.name));
            let (kind, index) = match export.kind {
                ExternalKind::Func => (0x00, self.remap(export.index)),
                ExternalKind::Table => (0x01, export.index),
                ExternalKind::Memory => (0x02, export.index),
                ExternalKind::Global => (0x03, export.index),
                ExternalKind::Tag => (0x04, export.index),
            };
            out.push(kind);
            out.extend(leb(index));
        }
        Ok(out)
    }

    /// Element segments: only the MVP form (active, table 0, function indices) is rewritten.
    fn elements_section(&self, body: &[u8], offset: usize) -> ParseResult<Vec<u8>> {
        let reader = wasmparser::ElementSectionReader::new(BinaryReader::new(body, offset))?;
        let mut out = leb(reader.count());
        for element in reader {
            let element = element?;
            let (
                ElementKind::Active {
                    table_index: None,
                    offset_expr,
                },
                ElementItems::Functions(funcs),
            ) = (&element.kind, &element.items)
            else {
                return Err(Unsupported);
            };
            out.push(0x00);
            let mut expr = offset_expr.get_binary_reader();
            let expr_start = expr.original_position();
            while !expr.eof() {
                expr.read_operator()?;
            }
            out.extend_from_slice(&body[expr_start - offset..expr.original_position() - offset]);
            out.extend(leb(funcs.count()));
            for func in funcs.clone() {
                out.extend(leb(self.remap(func?)));
            }
        }
        Ok(out)
    }

    fn code_section(&self, body: &[u8], offset: usize) -> ParseResult<Vec<u8>> {
        let reader = wasmparser::CodeSectionReader::new(BinaryReader::new(body, offset))?;
        let mut out = leb(reader.count());
        for (i, function) in reader.into_iter().enumerate() {
            let function: FunctionBody<'_> = function?;
            let index = self.func_imports + i as u32;
            let code = match self.replaced.iter().position(|r| r.index == index) {
                Some(import) => {
                    // No locals; push the parameters, call the import.
                    let mut code = vec![0x00];
                    for p in 0..self.replaced[import].params as u32 {
                        code.push(0x20);
                        code.extend(leb(p));
                    }
                    code.push(0x10);
                    code.extend(leb(self.func_imports + import as u32));
                    code.push(0x0b);
                    code
                }
                None => self.rewrite_body(&function, body, offset)?,
            };
            out.extend(leb(code.len() as u32));
            out.extend(code);
        }
        Ok(out)
    }

    /// The body with every function index remapped, every other byte as it was.
    fn rewrite_body(
        &self,
        function: &FunctionBody<'_>,
        section: &[u8],
        offset: usize,
    ) -> ParseResult<Vec<u8>> {
        let range = function.range();
        let mut ops = function.get_operators_reader()?;
        let mut code = Vec::with_capacity(range.len() + 16);
        let mut copied = range.start;
        while !ops.eof() {
            let (op, at) = ops.read_with_offset()?;
            let (opcode, index) = match op {
                Operator::Call { function_index } => (0x10, function_index),
                Operator::RefFunc { function_index } => (0xd2, function_index),
                Operator::ReturnCall { function_index } => (0x12, function_index),
                _ => continue,
            };
            code.extend_from_slice(&section[copied - offset..at - offset]);
            code.push(opcode);
            code.extend(leb(self.remap(index)));
            copied = ops.original_position();
        }
        code.extend_from_slice(&section[copied - offset..range.end - offset]);
        Ok(code)
    }
}

fn leb(mut value: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn name_bytes(name: &str) -> Vec<u8> {
    let mut out = leb(name.len() as u32);
    out.extend_from_slice(name.as_bytes());
    out
}
