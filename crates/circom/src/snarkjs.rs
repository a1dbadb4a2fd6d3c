//! snarkjs's JSON files for Groth16 over BN254 (`bn128`): `verification_key.json`, `proof.json` and
//! `public.json`, read into and written from arkworks types.
//!
//! Numbers are decimal strings; points are projective triples with `z = 1` (`z = 0` for the point at
//! infinity); G2 coordinates are `[c0, c1]` pairs. Public signals are in circom's order: the outputs, then
//! the public inputs.

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, One, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use serde_json::{Value, json};

use crate::{Bn254, Error, Fr, Result, inputs::scalar_to_decimal};

/// Parses `verification_key.json` (`snarkjs zkey export verificationkey`).
pub fn parse_verification_key(json: &Value) -> Result<VerifyingKey<Bn254>> {
    let what = "verification key";
    check_protocol(json, what)?;
    let ic = field(json, "IC", what)?
        .as_array()
        .ok_or_else(|| json_error(what, "`IC` is not an array"))?
        .iter()
        .enumerate()
        .map(|(i, p)| g1(p).map_err(|e| json_error(what, format!("IC[{i}]: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    if ic.is_empty() {
        return Err(json_error(what, "`IC` is empty"));
    }
    if let Some(n) = json.get("nPublic") {
        let n = n
            .as_u64()
            .ok_or_else(|| json_error(what, "`nPublic` is not a number"))?;
        if n as usize + 1 != ic.len() {
            return Err(json_error(
                what,
                format!("`nPublic` is {n} but `IC` has {} points", ic.len()),
            ));
        }
    }
    let point = |name: &str| field(json, name, what);
    Ok(VerifyingKey {
        alpha_g1: g1(point("vk_alpha_1")?)
            .map_err(|e| json_error(what, format!("vk_alpha_1: {e}")))?,
        beta_g2: g2(point("vk_beta_2")?)
            .map_err(|e| json_error(what, format!("vk_beta_2: {e}")))?,
        gamma_g2: g2(point("vk_gamma_2")?)
            .map_err(|e| json_error(what, format!("vk_gamma_2: {e}")))?,
        delta_g2: g2(point("vk_delta_2")?)
            .map_err(|e| json_error(what, format!("vk_delta_2: {e}")))?,
        gamma_abc_g1: ic,
    })
}

/// Parses `proof.json` (`snarkjs groth16 prove`/`fullprove`).
pub fn parse_proof(json: &Value) -> Result<Proof<Bn254>> {
    let what = "proof";
    check_protocol(json, what)?;
    Ok(Proof {
        a: g1(field(json, "pi_a", what)?).map_err(|e| json_error(what, format!("pi_a: {e}")))?,
        b: g2(field(json, "pi_b", what)?).map_err(|e| json_error(what, format!("pi_b: {e}")))?,
        c: g1(field(json, "pi_c", what)?).map_err(|e| json_error(what, format!("pi_c: {e}")))?,
    })
}

/// Parses `public.json`: the public signals as decimal strings, each below r.
pub fn parse_public_signals(json: &Value) -> Result<Vec<Fr>> {
    let what = "public signals";
    json.as_array()
        .ok_or_else(|| json_error(what, "not an array of decimal strings"))?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let big = integer::<Fr>(v).map_err(|e| json_error(what, format!("signal {i}: {e}")))?;
            Ok(big)
        })
        .collect()
}

/// `verification_key.json` as snarkjs writes it (including `vk_alphabeta_12`, which snarkjs's verifier
/// does not read: it is left out).
pub fn verification_key_json(vk: &VerifyingKey<Bn254>) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len() - 1,
        "vk_alpha_1": g1_json(&vk.alpha_g1),
        "vk_beta_2": g2_json(&vk.beta_g2),
        "vk_gamma_2": g2_json(&vk.gamma_g2),
        "vk_delta_2": g2_json(&vk.delta_g2),
        "IC": vk.gamma_abc_g1.iter().map(g1_json).collect::<Vec<_>>(),
    })
}

/// `proof.json` as snarkjs writes it.
pub fn proof_json(proof: &Proof<Bn254>) -> Value {
    json!({
        "pi_a": g1_json(&proof.a),
        "pi_b": g2_json(&proof.b),
        "pi_c": g1_json(&proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

/// `public.json` as snarkjs writes it.
pub fn public_signals_json(signals: &[Fr]) -> Value {
    Value::Array(
        signals
            .iter()
            .map(|s| Value::String(scalar_to_decimal(s)))
            .collect(),
    )
}

fn json_error(what: &'static str, reason: impl Into<String>) -> Error {
    Error::Json {
        what,
        reason: reason.into(),
    }
}

fn field<'a>(json: &'a Value, name: &str, what: &'static str) -> Result<&'a Value> {
    json.get(name)
        .ok_or_else(|| json_error(what, format!("`{name}` is missing")))
}

fn check_protocol(json: &Value, what: &'static str) -> Result<()> {
    if !json.is_object() {
        return Err(json_error(what, "not a JSON object"));
    }
    match json.get("protocol").and_then(Value::as_str) {
        None | Some("groth16") => {}
        Some(other) => {
            return Err(json_error(
                what,
                format!("protocol `{other}`: only groth16 is supported"),
            ));
        }
    }
    match json.get("curve").and_then(Value::as_str) {
        None | Some("bn128" | "bn254") => Ok(()),
        Some(other) => Err(json_error(
            what,
            format!("curve `{other}`: only bn128 (BN254) is supported"),
        )),
    }
}

/// A decimal string below the modulus of `F`.
fn integer<F: PrimeField<BigInt = BigInt<4>>>(v: &Value) -> Result<F, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{v} is not a decimal string"))?;
    let big = decimal(s).ok_or_else(|| format!("`{s}` is not a decimal integer below 2^256"))?;
    F::from_bigint(big).ok_or_else(|| format!("`{s}` is not below the field modulus"))
}

/// A decimal integer as a 256-bit integer; `None` if it is not one or overflows.
fn decimal(s: &str) -> Option<BigInt<4>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut limbs = [0u64; 4];
    for d in s.bytes() {
        let mut carry = u128::from(d - b'0');
        for limb in &mut limbs {
            let v = u128::from(*limb) * 10 + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(BigInt(limbs))
}

fn triple(v: &Value) -> Result<&[Value; 3], String> {
    v.as_array()
        .and_then(|a| <&[Value; 3]>::try_from(a.as_slice()).ok())
        .ok_or_else(|| "not a point (an array of 3 coordinates)".to_owned())
}

fn g1(v: &Value) -> Result<G1Affine, String> {
    let [x, y, z] = triple(v)?;
    let z: Fq = integer(z)?;
    if z.is_zero() {
        return Ok(G1Affine::zero());
    }
    if !z.is_one() {
        return Err("z is neither 1 nor 0 (not an affine point)".into());
    }
    let p = G1Affine::new_unchecked(integer(x)?, integer(y)?);
    if !p.is_on_curve() {
        return Err("not on the curve".into());
    }
    Ok(p)
}

fn fq2(v: &Value) -> Result<Fq2, String> {
    let pair = v
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| "a G2 coordinate is not a pair [c0, c1]".to_owned())?;
    Ok(Fq2::new(integer(&pair[0])?, integer(&pair[1])?))
}

fn g2(v: &Value) -> Result<G2Affine, String> {
    let [x, y, z] = triple(v)?;
    let z = fq2(z)?;
    if z.is_zero() {
        return Ok(G2Affine::zero());
    }
    if !z.is_one() {
        return Err("z is neither 1 nor 0 (not an affine point)".into());
    }
    let p = G2Affine::new_unchecked(fq2(x)?, fq2(y)?);
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err("not on the curve or outside the subgroup".into());
    }
    Ok(p)
}

fn dec<F: PrimeField>(v: &F) -> Value {
    Value::String(v.into_bigint().to_string())
}

fn g1_json(p: &G1Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([dec(&x), dec(&y), "1"]),
        None => json!(["0", "1", "0"]),
    }
}

fn g2_json(p: &G2Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([
            [dec(&x.c0), dec(&x.c1)],
            [dec(&y.c0), dec(&y.c1)],
            ["1", "0"]
        ]),
        None => json!([["0", "0"], ["1", "0"], ["0", "0"]]),
    }
}

#[cfg(test)]
mod tests {
    use ark_ec::CurveGroup;

    use super::*;

    #[test]
    fn points_and_proofs_round_trip() {
        let a = (G1Affine::generator() * Fr::from(3u64)).into_affine();
        let b = (G2Affine::generator() * Fr::from(5u64)).into_affine();
        let proof = Proof::<Bn254> { a, b, c: -a };
        assert_eq!(parse_proof(&proof_json(&proof)).expect("parses"), proof);
        let vk = VerifyingKey::<Bn254> {
            alpha_g1: a,
            beta_g2: b,
            gamma_g2: G2Affine::generator(),
            delta_g2: b,
            gamma_abc_g1: vec![a, G1Affine::zero()],
        };
        assert_eq!(
            parse_verification_key(&verification_key_json(&vk)).expect("parses"),
            vk
        );
        let signals = [Fr::from(0u64), -Fr::from(1u64)];
        assert_eq!(
            parse_public_signals(&public_signals_json(&signals)).expect("parses"),
            signals
        );
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        let a = (G1Affine::generator() * Fr::from(3u64)).into_affine();
        let b = G2Affine::generator();
        let mut proof = proof_json(&Proof::<Bn254> { a, b, c: a });
        let err = |v: &Value| parse_proof(v).expect_err("malformed").to_string();

        proof["pi_a"][1] = json!("7");
        assert!(
            err(&proof).contains("pi_a: not on the curve"),
            "{}",
            err(&proof)
        );
        proof["pi_a"] = json!([1, 2]);
        assert!(err(&proof).contains("pi_a: not a point"), "{}", err(&proof));
        proof["pi_a"] = g1_json(&a);
        proof["pi_c"][0] =
            json!("21888242871839275222246405745257275088696311157297823662689037894645226208583");
        assert!(
            err(&proof).contains("not below the field modulus"),
            "{}",
            err(&proof)
        );
        proof.as_object_mut().expect("object").remove("pi_c");
        assert!(err(&proof).contains("`pi_c` is missing"), "{}", err(&proof));
        proof["protocol"] = json!("plonk");
        assert!(err(&proof).contains("only groth16"), "{}", err(&proof));

        let vk = json!({"protocol": "groth16", "curve": "bls12381", "IC": []});
        assert!(
            parse_verification_key(&vk)
                .expect_err("bls")
                .to_string()
                .contains("only bn128")
        );
        let mut vk = verification_key_json(&VerifyingKey::<Bn254> {
            alpha_g1: a,
            beta_g2: b,
            gamma_g2: b,
            delta_g2: b,
            gamma_abc_g1: vec![a, a],
        });
        vk["nPublic"] = json!(2);
        assert!(
            parse_verification_key(&vk)
                .expect_err("count")
                .to_string()
                .contains("`nPublic` is 2 but `IC` has 2 points")
        );
        assert!(
            parse_public_signals(&json!(["1", 2]))
                .expect_err("number")
                .to_string()
                .contains("signal 1")
        );
        assert!(parse_public_signals(&json!(["-1"])).is_err());
    }
}
