// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IAttestationVerifier
/// @notice On-chain check of enclave attestations. An off-chain attestation-verifier service validates a real AWS
/// Nitro attestation document (COSE_Sign1 signature, certificate chain to the AWS Nitro root, PCRs, freshness) and
/// signs its verdict as the EIP-712 message
/// `EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)`; this contract accepts the verdict
/// when a trusted service key signed it and it is fresh.
/// @dev EIP-712 domain: name "Kalypso AttestationVerifier", version "1", the chain id and this contract (the proxy)
/// as verifying contract. Public keys are 64-byte uncompressed secp256k1 keys (x ‖ y, no 0x04 prefix); the key's
/// address is `address(uint160(uint256(keccak256(pubkey))))`. Times are Unix milliseconds, as in Nitro
/// attestation documents; "now" is `block.timestamp * 1000`.
interface IAttestationVerifier {
    /// @notice An address argument that must be set was zero.
    error ZeroAddress();

    /// @notice `signer` is already a trusted attestation signer.
    error SignerAlreadyTrusted(address signer);

    /// @notice `signer` is not a trusted attestation signer (on removal).
    error SignerNotTrusted(address signer);

    /// @notice The attestation was signed by `signer`, which is not a trusted attestation signer (also what a
    /// signature over different data or another EIP-712 domain recovers to).
    error UntrustedSigner(address signer);

    /// @notice The signature is malformed (not 65 bytes, high `s`, or recovers to no address).
    error InvalidSignature();

    /// @notice The enclave public key is not 64 bytes long.
    error InvalidPublicKeyLength(uint256 length);

    /// @notice A PCR value is not 48 bytes (SHA-384) long.
    /// @param index Which PCR (0, 1 or 2).
    error InvalidPcrLength(uint256 index, uint256 length);

    /// @notice The attestation is older than the maximum attestation age.
    error AttestationExpired(uint64 timestampMs, uint64 nowMs);

    /// @notice The attestation is dated further in the future than the allowed clock skew.
    error AttestationFromFuture(uint64 timestampMs, uint64 nowMs);

    /// @notice The maximum attestation age must be positive.
    error InvalidMaxAttestationAge(uint64 maxAgeMs);

    /// @notice `signer` now signs trusted attestation verdicts.
    event TrustedSignerAdded(address indexed signer);

    /// @notice `signer` no longer signs trusted attestation verdicts.
    event TrustedSignerRemoved(address indexed signer);

    /// @notice Attestations older than `maxAgeMs` milliseconds are rejected from now on.
    event MaxAttestationAgeSet(uint64 maxAgeMs);

    /// @notice EIP-712 type hash of `EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)`.
    function ENCLAVE_ATTESTATION_TYPEHASH() external view returns (bytes32);

    /// @notice How far (milliseconds) an attestation may be dated after the current block time (clock skew between
    /// the enclave host and the chain).
    function MAX_CLOCK_SKEW_MS() external view returns (uint64);

    /// @notice Trusts `signer` to sign attestation verdicts. DEFAULT_ADMIN_ROLE only.
    function addTrustedSigner(address signer) external;

    /// @notice Stops trusting `signer`. DEFAULT_ADMIN_ROLE only.
    function removeTrustedSigner(address signer) external;

    /// @notice Sets the maximum age of an accepted attestation. DEFAULT_ADMIN_ROLE only.
    function setMaxAttestationAge(uint64 maxAgeMs) external;

    /// @notice Checks that a trusted signer attested that the enclave holding `enclavePubKey` runs `imageId`, and
    /// that the attestation is fresh. Reverts with a precise error otherwise.
    /// @param enclavePubKey The enclave's 64-byte uncompressed secp256k1 public key.
    /// @param imageId `imageIdOf(PCR0, PCR1, PCR2)` of the enclave image.
    /// @param timestampMs Timestamp of the attestation document, Unix milliseconds.
    /// @param signature 65-byte (r, s, v) EIP-712 signature of the attestation signer.
    /// @return enclave The address of `enclavePubKey`.
    function verify(bytes calldata enclavePubKey, bytes32 imageId, uint64 timestampMs, bytes calldata signature)
        external
        view
        returns (address enclave);

    /// @notice The EIP-712 digest a trusted signer signs for an attestation.
    function attestationDigest(bytes calldata enclavePubKey, bytes32 imageId, uint64 timestampMs)
        external
        view
        returns (bytes32);

    /// @notice The image id of an enclave: `keccak256(PCR0 ‖ PCR1 ‖ PCR2)`, each PCR 48 bytes.
    function imageIdOf(bytes calldata pcr0, bytes calldata pcr1, bytes calldata pcr2) external pure returns (bytes32);

    /// @notice Whether `signer` is a trusted attestation signer.
    function isTrustedSigner(address signer) external view returns (bool);

    /// @notice All trusted attestation signers (unordered).
    function trustedSigners() external view returns (address[] memory);

    /// @notice Maximum age of an accepted attestation, in milliseconds.
    function maxAttestationAgeMs() external view returns (uint64);
}
