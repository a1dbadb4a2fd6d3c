//! The witness calculator with circom's field functions rewritten into native calls gives the interpreter's
//! witness, bit for bit, on both committed circuits (a MiMC-style chain; bit decompositions, shifts and
//! inverses in `factors`), keeps circom's error reports, and leaves a module it cannot rewrite as it is.

use std::path::PathBuf;

use kalypso_circom::{Error, Inputs, WitnessCalculator};

fn wasm(circuit: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../circuits/{circuit}/fixture/{circuit}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The module without its custom sections (the `name` section is how the rewrite finds the functions).
fn without_names(wasm: &[u8]) -> Vec<u8> {
    let mut out = wasm[..8].to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (mut size, mut shift, mut len) = (0usize, 0, 1);
        loop {
            let byte = wasm[at + len];
            size |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            len += 1;
            if byte < 0x80 {
                break;
            }
        }
        let end = at + len + size;
        if id != 0 {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    out
}

fn both(wasm: &[u8]) -> (WitnessCalculator, WitnessCalculator) {
    let native = WitnessCalculator::new(wasm).expect("compiles");
    let interpreted = WitnessCalculator::interpreted(wasm).expect("compiles");
    assert!(
        native.native_field(),
        "circom's field functions are found and replaced"
    );
    assert!(!interpreted.native_field());
    assert_eq!(native.witness_size(), interpreted.witness_size());
    (native, interpreted)
}

#[test]
fn native_field_arithmetic_gives_the_interpreters_witness() {
    let (native, interpreted) = both(&wasm("chain"));
    // Small, large and r − 1 (the largest element).
    for x in [
        "5",
        "1",
        "21888242871839275222246405745257275088548364400416903629712",
        "21888242871839275222246405745257275088548364400416903629712025050123874945232",
        "4294967296",
    ] {
        let inputs = Inputs::from_json_str(&format!(r#"{{"x": "{x}"}}"#)).expect("json");
        assert_eq!(
            native.calculate(&inputs).expect("native"),
            interpreted.calculate(&inputs).expect("interpreted"),
            "x = {x}"
        );
    }

    let (native, interpreted) = both(&wasm("factors"));
    for (n, p, q) in [
        ("221", "13", "17"),
        ("18446743979220271189", "4294967291", "4294967279"),
        ("18446744073709551557", "18446744073709551557", "1"),
    ] {
        let inputs = Inputs::from_json_str(&format!(r#"{{"n": "{n}", "p": "{p}", "q": "{q}"}}"#))
            .expect("json");
        match (native.calculate(&inputs), interpreted.calculate(&inputs)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "n = {n}"),
            // q = 1 fails AtLeastTwo in both, with circom's own message.
            (Err(Error::Witness(a)), Err(Error::Witness(b))) => {
                assert_eq!(a, b);
                assert!(a.contains("AtLeastTwo"), "{a}");
            }
            (a, b) => panic!("the two calculators disagree for n = {n}: {a:?} vs {b:?}"),
        }
    }
}

#[test]
fn a_module_without_function_names_runs_in_the_interpreter() {
    let stripped = without_names(&wasm("chain"));
    let calculator = WitnessCalculator::new(&stripped).expect("still a circom module");
    assert!(!calculator.native_field());
    let inputs = Inputs::from_json_str(r#"{"x": "5"}"#).expect("json");
    let reference = WitnessCalculator::new(&wasm("chain")).expect("compiles");
    assert_eq!(
        calculator.calculate(&inputs).expect("witness"),
        reference.calculate(&inputs).expect("witness")
    );
}
