// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IVerifier
/// @notice The proof check of one market. The marketplace hands it the ask's prover data (`inputs`, exactly
/// the bytes the requester escrowed) and the generator's `proof`; what the bytes mean is the verifier's
/// business (public inputs, outputs, a TEE signature...).
interface IVerifier {
    /// @notice Whether `proof` proves the statement described by `inputs`.
    /// @dev Returns false for a wrong proof. May revert for encodings it cannot parse; the marketplace treats a
    /// revert like `false`.
    function verify(bytes calldata inputs, bytes calldata proof) external view returns (bool);

    /// @notice `verify` for one ask, as the marketplace calls it: with the ask's commitment to its secret inputs
    /// (zero for an ask without) and the generator assigned to it. A proof whose validity rests on who made it (a
    /// TEE signature) must name both, so it settles no other ask and no other generator's task; a proof that is
    /// valid on its own (Groth16 over the public inputs) ignores them.
    /// @dev Same return and revert rules as `verify`.
    function verifyAsk(bytes calldata inputs, bytes calldata proof, bytes32 secretCommitment, address generator)
        external
        view
        returns (bool);

    /// @notice Whether `inputs` are well-formed for this verifier (lengths, field ranges). Cheap and
    /// deterministic, so requesters, generators and the IVS can check asks before any work is done.
    /// @dev Returns true for well-formed inputs. For malformed ones it should revert with an error saying which
    /// rule failed (the marketplace passes the revert data on in `InvalidInputs`); returning false is allowed.
    /// Well-formed is not provable: inputs with no witness pass (the IVS attests those).
    function verifyInputs(bytes calldata inputs) external view returns (bool);

    /// @notice A sample statement that `sampleProof()` proves.
    function sampleInput() external view returns (bytes memory);

    /// @notice A proof of `sampleInput()`.
    function sampleProof() external view returns (bytes memory);

    /// @notice Self-check run when a market is created: `verify(sampleInput(), sampleProof())`.
    function checkSampleInputsAndProof() external view returns (bool);
}
