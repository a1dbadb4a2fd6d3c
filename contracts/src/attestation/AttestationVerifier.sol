// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAttestationVerifier} from "../interfaces/IAttestationVerifier.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title AttestationVerifier
/// @notice Accepts enclave attestations signed by trusted attestation-verifier services (see
/// {IAttestationVerifier}).
/// @dev Upgradeable (UUPS) with ERC-7201 storage. The signer set is enumerable so operators can audit it on-chain;
/// every change is also emitted.
contract AttestationVerifier is
    IAttestationVerifier,
    Initializable,
    UUPSUpgradeable,
    AccessControlUpgradeable,
    EIP712Upgradeable
{
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @inheritdoc IAttestationVerifier
    bytes32 public constant ENCLAVE_ATTESTATION_TYPEHASH =
        keccak256("EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)");

    /// @inheritdoc IAttestationVerifier
    uint64 public constant MAX_CLOCK_SKEW_MS = 120_000;

    /// @dev Length of an uncompressed secp256k1 public key without the 0x04 prefix.
    uint256 private constant PUBLIC_KEY_LENGTH = 64;

    /// @dev Length of a Nitro PCR value (SHA-384).
    uint256 private constant PCR_LENGTH = 48;

    /// @custom:storage-location erc7201:kalypso.storage.AttestationVerifier
    struct Storage {
        uint64 maxAttestationAgeMs;
        EnumerableSet.AddressSet signers;
    }

    // keccak256(abi.encode(uint256(keccak256("kalypso.storage.AttestationVerifier")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0xb11838783b7eef33b7461fa2eccc5da4c9f4dc8b32a2ad4c8cdfa97474ed4900;

    constructor() {
        _disableInitializers();
    }

    /// @notice Initialises the proxy.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (manages signers, the maximum age and upgrades).
    /// @param maxAgeMs Maximum age of an accepted attestation, in milliseconds.
    /// @param signers Initially trusted attestation signers.
    function initialize(address admin, uint64 maxAgeMs, address[] calldata signers) external initializer {
        if (admin == address(0)) revert ZeroAddress();
        __AccessControl_init();
        __EIP712_init("Kalypso AttestationVerifier", "1");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setMaxAttestationAge(maxAgeMs);
        for (uint256 i; i < signers.length; ++i) {
            _addTrustedSigner(signers[i]);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IAttestationVerifier
    function addTrustedSigner(address signer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _addTrustedSigner(signer);
    }

    /// @inheritdoc IAttestationVerifier
    function removeTrustedSigner(address signer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_s().signers.remove(signer)) revert SignerNotTrusted(signer);
        emit TrustedSignerRemoved(signer);
    }

    /// @inheritdoc IAttestationVerifier
    function setMaxAttestationAge(uint64 maxAgeMs) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxAttestationAge(maxAgeMs);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IAttestationVerifier
    function verify(bytes calldata enclavePubKey, bytes32 imageId, uint64 timestampMs, bytes calldata signature)
        external
        view
        returns (address enclave)
    {
        if (enclavePubKey.length != PUBLIC_KEY_LENGTH) revert InvalidPublicKeyLength(enclavePubKey.length);

        Storage storage $ = _s();
        uint64 nowMs = uint64(block.timestamp * 1000);
        if (timestampMs > nowMs) {
            if (timestampMs - nowMs > MAX_CLOCK_SKEW_MS) revert AttestationFromFuture(timestampMs, nowMs);
        } else if (nowMs - timestampMs > $.maxAttestationAgeMs) {
            revert AttestationExpired(timestampMs, nowMs);
        }

        // The third value is the error's argument, not needed: the error itself is checked on the next line.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(_digest(enclavePubKey, imageId, timestampMs), signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        if (!$.signers.contains(signer)) revert UntrustedSigner(signer);

        enclave = address(uint160(uint256(keccak256(enclavePubKey))));
    }

    /// @inheritdoc IAttestationVerifier
    function attestationDigest(bytes calldata enclavePubKey, bytes32 imageId, uint64 timestampMs)
        external
        view
        returns (bytes32)
    {
        return _digest(enclavePubKey, imageId, timestampMs);
    }

    /// @inheritdoc IAttestationVerifier
    function imageIdOf(bytes calldata pcr0, bytes calldata pcr1, bytes calldata pcr2) external pure returns (bytes32) {
        if (pcr0.length != PCR_LENGTH) revert InvalidPcrLength(0, pcr0.length);
        if (pcr1.length != PCR_LENGTH) revert InvalidPcrLength(1, pcr1.length);
        if (pcr2.length != PCR_LENGTH) revert InvalidPcrLength(2, pcr2.length);
        // Each PCR is exactly PCR_LENGTH bytes (checked above), so the packed bytes split one way only.
        // slither-disable-next-line encode-packed-collision
        return keccak256(abi.encodePacked(pcr0, pcr1, pcr2));
    }

    /// @inheritdoc IAttestationVerifier
    function isTrustedSigner(address signer) external view returns (bool) {
        return _s().signers.contains(signer);
    }

    /// @inheritdoc IAttestationVerifier
    function trustedSigners() external view returns (address[] memory) {
        return _s().signers.values();
    }

    /// @inheritdoc IAttestationVerifier
    function maxAttestationAgeMs() external view returns (uint64) {
        return _s().maxAttestationAgeMs;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    function _addTrustedSigner(address signer) internal {
        if (signer == address(0)) revert ZeroAddress();
        if (!_s().signers.add(signer)) revert SignerAlreadyTrusted(signer);
        emit TrustedSignerAdded(signer);
    }

    function _setMaxAttestationAge(uint64 maxAgeMs) internal {
        if (maxAgeMs == 0) revert InvalidMaxAttestationAge(maxAgeMs);
        _s().maxAttestationAgeMs = maxAgeMs;
        emit MaxAttestationAgeSet(maxAgeMs);
    }

    function _digest(bytes calldata enclavePubKey, bytes32 imageId, uint64 timestampMs)
        internal
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(ENCLAVE_ATTESTATION_TYPEHASH, keccak256(enclavePubKey), imageId, timestampMs))
        );
    }

    /// @dev Upgrades are authorised by DEFAULT_ADMIN_ROLE only.
    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}

    function _s() internal pure returns (Storage storage $) {
        assembly ("memory-safe") {
            $.slot := STORAGE_SLOT
        }
    }
}
