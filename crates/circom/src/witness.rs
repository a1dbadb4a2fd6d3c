//! The witness of a circom 2 circuit, computed by the circuit's own `.wasm` (the witness calculator circom
//! writes with `--wasm`) in the [`wasmi`] interpreter.
//!
//! The module's ABI (circom ≥ 2.0): inputs are set one field element at a time through a shared buffer
//! (`writeSharedRWMemory(i, limb)` then `setInputSignal(hash_hi, hash_lo, index)`, the hash being the
//! 64-bit FNV-1a of the signal's qualified name); the last input runs the circuit; `getWitness(i)` puts
//! witness element `i` in the buffer. A failed `assert` or constraint calls the imported
//! `runtime.exceptionHandler(code)` after `printErrorMessage` has spelled out where it failed.

use std::{fmt, path::Path};

use ark_ff::{BigInteger, PrimeField};
use wasmi::{Caller, Engine, Extern, Instance, Linker, Memory, Module, Store, TypedFunc};

use crate::{Error, Fr, Result, inputs::Inputs, native_field};

/// Limbs of a BN254 scalar as the witness calculator exchanges them (32-bit, little-endian order).
const N32: usize = 8;

/// A compiled circom witness calculator. Compiling happens once ([`Self::new`]); every
/// [`Self::calculate`] runs in a fresh instance, so one calculator serves concurrent proofs.
#[derive(Clone)]
pub struct WitnessCalculator {
    engine: Engine,
    module: Module,
    linker: Linker<HostState>,
    /// Elements of the witness (`1`, outputs, inputs, internal signals).
    witness_size: usize,
    /// Input signals the circuit expects (flattened).
    input_size: usize,
    /// circom version that compiled the module (`major.minor.patch`).
    version: (u32, u32, u32),
    /// Whether the field arithmetic runs natively ([`crate::native_field`]).
    native: bool,
}

impl fmt::Debug for WitnessCalculator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WitnessCalculator")
            .field("witness_size", &self.witness_size)
            .field("input_size", &self.input_size)
            .field("version", &self.version)
            .field("native", &self.native)
            .finish_non_exhaustive()
    }
}

/// What the host functions collect while the module runs.
#[derive(Default)]
pub(crate) struct HostState {
    /// Messages of `printErrorMessage` (where an assert failed).
    error_messages: String,
    /// The code of the last `exceptionHandler` call.
    exception: Option<i32>,
    /// The instance's memory, for the native field imports.
    pub(crate) memory: Option<Memory>,
}

/// The module's exports, looked up once per instance.
struct Exports {
    memory: Memory,
    shared_start: usize,
    write_shared: TypedFunc<(i32, i32), ()>,
    init: TypedFunc<i32, ()>,
    set_input: TypedFunc<(i32, i32, i32), ()>,
    input_signal_size: TypedFunc<(i32, i32), i32>,
    get_witness: TypedFunc<i32, ()>,
}

impl WitnessCalculator {
    /// Compiles the witness calculator `wasm` and checks that it is a circom 2 module for BN254.
    ///
    /// circom's field arithmetic runs natively when the module has the functions
    /// [`native_field`](crate::native_field) replaces (every circom 2 module does), in the interpreter
    /// otherwise.
    pub fn new(wasm: &[u8]) -> Result<Self> {
        // A malformed module is not rewritten: compiling it as it is reports what is wrong.
        match native_field::accelerate(wasm) {
            Some(accelerated) => Self::compile(&accelerated, true),
            None => Self::compile(wasm, false),
        }
    }

    /// Compiles the witness calculator `wasm` with its field arithmetic in the interpreter, as circom wrote
    /// it (for comparisons with [`Self::new`]).
    pub fn interpreted(wasm: &[u8]) -> Result<Self> {
        Self::compile(wasm, false)
    }

    fn compile(wasm: &[u8], native: bool) -> Result<Self> {
        let engine = Engine::default();
        let module = Module::new(&engine, wasm)
            .map_err(|e| Error::Wasm(format!("not a valid WebAssembly module: {e}")))?;
        let mut linker = <Linker<HostState>>::new(&engine);
        define_runtime(&mut linker)?;
        if native {
            native_field::define(&mut linker)?;
        }
        let mut calculator = Self {
            engine,
            module,
            linker,
            witness_size: 0,
            input_size: 0,
            version: (0, 0, 0),
            native,
        };
        let (mut store, instance) = calculator.instantiate()?;
        let call = |store: &mut Store<HostState>, name: &str| -> Result<i32> {
            let f: TypedFunc<(), i32> = typed(&instance, store, name)?;
            f.call(&mut *store, ()).map_err(|e| trap(store, name, &e))
        };
        let major = call(&mut store, "getVersion")?;
        if major < 2 {
            return Err(Error::Wasm(format!(
                "compiled by circom {major}: a circom 2 witness calculator is needed"
            )));
        }
        // Older circom 2 modules lack the minor/patch exports.
        let minor = call(&mut store, "getMinorVersion").unwrap_or(0);
        let patch = call(&mut store, "getPatchVersion").unwrap_or(0);
        let n32 = call(&mut store, "getFieldNumLen32")?;
        if n32 as usize != N32 {
            return Err(Error::Wasm(format!(
                "field elements of {n32} 32-bit limbs: only BN254 (8 limbs) is supported"
            )));
        }
        let raw_prime: TypedFunc<(), ()> = typed(&instance, &store, "getRawPrime")?;
        raw_prime
            .call(&mut store, ())
            .map_err(|e| trap(&store, "getRawPrime", &e))?;
        let exports = Exports::new(&instance, &mut store)?;
        let prime = exports.read_shared(&store);
        if prime != Fr::MODULUS.to_bytes_le() {
            return Err(Error::Wasm(
                "the circuit's prime is not the BN254 scalar field (compile with `-p bn128`)"
                    .into(),
            ));
        }
        calculator.witness_size = usize_of(call(&mut store, "getWitnessSize")?)?;
        calculator.input_size = usize_of(call(&mut store, "getInputSize")?)?;
        calculator.version = (major as u32, minor as u32, patch as u32);
        Ok(calculator)
    }

    /// Reads and compiles the witness calculator at `path` (`<circuit>_js/<circuit>.wasm`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let wasm = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::new(&wasm).map_err(|e| e.in_file(path))
    }

    /// Elements of the witness: the constant `1`, the public outputs, the public then private inputs and
    /// the internal signals.
    pub fn witness_size(&self) -> usize {
        self.witness_size
    }

    /// Input signal elements (public and private, arrays flattened) the circuit expects.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Whether circom's field arithmetic runs natively rather than in the interpreter.
    pub fn native_field(&self) -> bool {
        self.native
    }

    /// The circom version that compiled the module.
    pub fn circom_version(&self) -> (u32, u32, u32) {
        self.version
    }

    /// Elements of input signal `name` (1 for a scalar, the flattened length of an array), or `None`
    /// when the circuit has no such input.
    pub fn input_signal_size(&self, name: &str) -> Result<Option<usize>> {
        let (mut store, instance) = self.instantiate()?;
        let exports = Exports::new(&instance, &mut store)?;
        exports
            .init
            .call(&mut store, 0)
            .map_err(|e| trap(&store, "init", &e))?;
        let (hi, lo) = fnv1a_halves(name);
        let size = exports
            .input_signal_size
            .call(&mut store, (hi, lo))
            .map_err(|e| trap(&store, "getInputSignalSize", &e))?;
        // Unknown names give a negative size or 0 (depending on the circom version).
        Ok(usize::try_from(size).ok().filter(|n| *n > 0))
    }

    /// Runs the circuit on `inputs` and returns its full witness.
    ///
    /// Fails with [`Error::Input`] for an unknown signal, a wrong number of values or missing inputs, and
    /// with [`Error::Witness`] when the circuit rejects the values (a failed `assert` or `===`), with the
    /// template and line circom reports.
    pub fn calculate(&self, inputs: &Inputs) -> Result<Vec<Fr>> {
        let (mut store, instance) = self.instantiate()?;
        let exports = Exports::new(&instance, &mut store)?;
        exports
            .init
            .call(&mut store, 0)
            .map_err(|e| trap(&store, "init", &e))?;
        let mut set = 0usize;
        for (name, values) in inputs.iter() {
            let (hi, lo) = fnv1a_halves(name);
            let size = exports
                .input_signal_size
                .call(&mut store, (hi, lo))
                .map_err(|e| trap(&store, "getInputSignalSize", &e))?;
            // Unknown names give a negative size or 0 (depending on the circom version).
            let size = usize::try_from(size)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::Input(format!("the circuit has no input signal `{name}`")))?;
            if values.len() != size {
                return Err(Error::Input(format!(
                    "input signal `{name}` takes {size} value(s), got {}",
                    values.len()
                )));
            }
            for (i, value) in values.iter().enumerate() {
                exports.write_shared(&mut store, value)?;
                // An index of at most `size` (an i32 the module returned) fits in an i32.
                let index = i32::try_from(i).map_err(|_| Error::Input("too many values".into()))?;
                exports
                    .set_input
                    .call(&mut store, (hi, lo, index))
                    .map_err(|e| trap(&store, &format!("setting input `{name}`"), &e))?;
                set += 1;
            }
        }
        if set < self.input_size {
            return Err(Error::Input(format!(
                "only {set} of the circuit's {} input values were given",
                self.input_size
            )));
        }
        let mut witness = Vec::with_capacity(self.witness_size);
        for i in 0..self.witness_size {
            let index = i32::try_from(i).map_err(|_| Error::Wasm("witness too large".into()))?;
            exports
                .get_witness
                .call(&mut store, index)
                .map_err(|e| trap(&store, "getWitness", &e))?;
            let le = exports.read_shared(&store);
            let value = Fr::from_bigint(ark_ff::BigInt(le_limbs(&le))).ok_or_else(|| {
                Error::Wasm(format!(
                    "witness element {i} is not below the field modulus"
                ))
            })?;
            witness.push(value);
        }
        Ok(witness)
    }

    fn instantiate(&self) -> Result<(Store<HostState>, Instance)> {
        let mut store = Store::new(&self.engine, HostState::default());
        let instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| {
                Error::Wasm(format!(
                    "cannot instantiate the witness calculator (not a circom 2 module?): {e}"
                ))
            })?;
        store.data_mut().memory = instance.get_memory(&store, "memory");
        Ok((store, instance))
    }
}

impl Exports {
    fn new(instance: &Instance, store: &mut Store<HostState>) -> Result<Self> {
        let memory = instance
            .get_memory(&*store, "memory")
            .ok_or_else(|| Error::Wasm("the module exports no `memory`".into()))?;
        let start: TypedFunc<(), i32> = typed(instance, store, "getSharedRWMemoryStart")?;
        let shared_start = usize_of(
            start
                .call(&mut *store, ())
                .map_err(|e| trap(store, "getSharedRWMemoryStart", &e))?,
        )?;
        if shared_start + 4 * N32 > memory.data_size(&*store) {
            return Err(Error::Wasm(
                "the shared buffer lies outside the memory".into(),
            ));
        }
        Ok(Self {
            memory,
            shared_start,
            write_shared: typed(instance, store, "writeSharedRWMemory")?,
            init: typed(instance, store, "init")?,
            set_input: typed(instance, store, "setInputSignal")?,
            input_signal_size: typed(instance, store, "getInputSignalSize")?,
            get_witness: typed(instance, store, "getWitness")?,
        })
    }

    /// The field element in the shared buffer, as 32 little-endian bytes.
    fn read_shared(&self, store: &Store<HostState>) -> Vec<u8> {
        let data = self.memory.data(store);
        // `new` checked that the buffer lies inside the memory, which never shrinks.
        data[self.shared_start..self.shared_start + 4 * N32].to_vec()
    }

    fn write_shared(&self, store: &mut Store<HostState>, value: &Fr) -> Result<()> {
        let le = value.into_bigint().to_bytes_le();
        for (j, limb) in le.chunks_exact(4).enumerate() {
            let limb = u32::from_le_bytes([limb[0], limb[1], limb[2], limb[3]]);
            // Limbs are raw 32-bit words; the module reads them back as u32.
            self.write_shared
                .call(&mut *store, (j as i32, limb as i32))
                .map_err(|e| trap(store, "writeSharedRWMemory", &e))?;
        }
        Ok(())
    }
}

/// The `runtime` imports of a circom 2 module.
fn define_runtime(linker: &mut Linker<HostState>) -> Result<()> {
    let link = |e: wasmi::errors::LinkerError| Error::Wasm(format!("linking the runtime: {e}"));
    linker
        .func_wrap(
            "runtime",
            "exceptionHandler",
            |mut caller: Caller<'_, HostState>, code: i32| -> Result<(), wasmi::Error> {
                caller.data_mut().exception = Some(code);
                Err(wasmi::Error::new(format!("circom exception {code}")))
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            "runtime",
            "printErrorMessage",
            |mut caller: Caller<'_, HostState>| -> Result<(), wasmi::Error> {
                let message = read_message(&mut caller)?;
                let errors = &mut caller.data_mut().error_messages;
                errors.push_str(message.trim_end());
                errors.push('\n');
                Ok(())
            },
        )
        .map_err(link)?;
    // `log(...)` output of the circuit: drained and dropped (a prover's logs are not the place for it).
    linker
        .func_wrap(
            "runtime",
            "writeBufferMessage",
            |mut caller: Caller<'_, HostState>| -> Result<(), wasmi::Error> {
                read_message(&mut caller).map(drop)
            },
        )
        .map_err(link)?;
    linker
        .func_wrap(
            "runtime",
            "showSharedRWMemory",
            |_: Caller<'_, HostState>| {},
        )
        .map_err(link)?;
    Ok(())
}

/// Drains the module's message buffer (`getMessageChar` until 0).
fn read_message(caller: &mut Caller<'_, HostState>) -> Result<String, wasmi::Error> {
    let next = caller
        .get_export("getMessageChar")
        .and_then(Extern::into_func)
        .ok_or_else(|| wasmi::Error::new("the module exports no getMessageChar"))?
        .typed::<(), i32>(&*caller)?;
    let mut message = String::new();
    // A message is a C string in the module's memory: bounded by it, but stop runaway loops anyway.
    for _ in 0..1 << 16 {
        match next.call(&mut *caller, ())? {
            0 => break,
            c => message.push(char::from(c as u8)),
        }
    }
    Ok(message)
}

fn typed<P: wasmi::WasmParams, R: wasmi::WasmResults>(
    instance: &Instance,
    store: &Store<HostState>,
    name: &str,
) -> Result<TypedFunc<P, R>> {
    instance.get_typed_func::<P, R>(store, name).map_err(|e| {
        Error::Wasm(format!(
            "the module has no usable export `{name}` (not a circom 2 witness calculator?): {e}"
        ))
    })
}

/// The error of a failed call: a circom exception with its message, or a trap of the module.
fn trap(store: &Store<HostState>, what: &str, error: &wasmi::Error) -> Error {
    let state = store.data();
    let details = state.error_messages.trim_end().replace('\n', "; ");
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(": {details}")
    };
    match state.exception {
        Some(1) => Error::Input(format!("{what}: signal not found{details}")),
        Some(2) => Error::Input(format!("{what}: too many values for a signal{details}")),
        Some(3) => Error::Input(format!("{what}: signal already set{details}")),
        Some(4) => Error::Witness(format!("assert failed{details}")),
        Some(5) => Error::Wasm(format!("{what}: the witness calculator ran out of memory")),
        Some(6) => Error::Input(format!(
            "{what}: input signal array index out of range{details}"
        )),
        Some(7) => Error::Witness(format!("out of bounds array access{details}")),
        Some(code) => Error::Witness(format!("circom exception {code}{details}")),
        None => Error::Wasm(format!("{what}: the witness calculator trapped: {error}")),
    }
}

/// The 64-bit FNV-1a hash of a signal name, split into the (high, low) 32-bit halves the module takes.
fn fnv1a_halves(name: &str) -> (i32, i32) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Raw 32-bit halves: the module compares them bit for bit.
    ((hash >> 32) as u32 as i32, hash as u32 as i32)
}

fn le_limbs(le: &[u8]) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (limb, bytes) in limbs.iter_mut().zip(le.chunks_exact(8)) {
        let mut word = [0; 8];
        word.copy_from_slice(bytes);
        *limb = u64::from_le_bytes(word);
    }
    limbs
}

fn usize_of(v: i32) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::Wasm(format!("the module returned a negative size {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // FNV-1a 64 of "" and "a" (the published test vectors), as circom's JS calculator splits them.
        assert_eq!(
            fnv1a_halves(""),
            (0xcbf29ce4u32 as i32, 0x84222325u32 as i32)
        );
        assert_eq!(
            fnv1a_halves("a"),
            (0xaf63dc4cu32 as i32, 0x8601ec8cu32 as i32)
        );
    }

    #[test]
    fn rejects_what_is_not_a_circom_module() {
        assert!(matches!(
            WitnessCalculator::new(b"not wasm"),
            Err(Error::Wasm(m)) if m.contains("not a valid WebAssembly module")
        ));
        // The smallest valid module: no imports, no exports.
        let empty = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert!(matches!(
            WitnessCalculator::new(&empty),
            Err(Error::Wasm(m)) if m.contains("getVersion")
        ));
    }
}
