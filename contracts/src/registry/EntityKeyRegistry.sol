// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAttestationVerifier} from "../interfaces/IAttestationVerifier.sol";
import {IEntityKeyRegistryView} from "../interfaces/IEntityKeyRegistry.sol";
import {IMarketView} from "../interfaces/IMarketView.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title IEntityKeyRegistry
/// @notice Keys of the protocol's off-chain entities: the Matching Engine (ME) key that signs assignment batches
/// and receives ECIES-wrapped input keys, each market's input-verification-service (IVS) signers, and each
/// generator's per-market enclave encryption key. Keys of enclaves are admitted through an attestation checked by
/// the {IAttestationVerifier}; the image each attested enclave key runs is recorded for the TEE verifier.
/// @dev Public keys are 64-byte uncompressed secp256k1 keys (x ‖ y, no 0x04 prefix); a key's address is
/// `address(uint160(uint256(keccak256(pubkey))))`. Errors of the attestation check (expired, untrusted signer, ...)
/// bubble up from the {IAttestationVerifier} unchanged. Pausing stops every addition and registration; removals
/// stay possible so that keys can be revoked during an emergency.
interface IEntityKeyRegistry is IEntityKeyRegistryView {
    /// @notice Registration state of an IVS signer in a market.
    enum IvsSignerStatus {
        None,
        Active,
        Revoked
    }

    /// @notice An address argument that must be set was zero.
    error ZeroAddress();

    /// @notice A public key is not 64 bytes long.
    error InvalidPublicKeyLength(uint256 length);

    /// @notice No market view is configured yet (see `setMarketView`).
    error MarketViewNotSet();

    /// @notice `marketId` does not exist.
    error MarketNotFound(uint256 marketId);

    /// @notice `caller` is not the creator of `marketId`.
    error NotMarketCreator(uint256 marketId, address caller);

    /// @notice Keys of this kind must come with an attestation for `imageId`; the direct setter is closed.
    error AttestationRequired(bytes32 imageId);

    /// @notice No enclave image is configured for keys of this kind, so there is nothing to attest against.
    error NoEnclaveImage();

    /// @notice `imageId` is not a prover image of `marketId`.
    error ImageNotAllowed(uint256 marketId, bytes32 imageId);

    /// @notice The attestation is not newer than the one of the current (or last removed) ME key; prevents rolling
    /// back to an older key.
    error StaleAttestation(uint64 timestampMs, uint64 latestTimestampMs);

    /// @notice No Matching Engine key is set.
    error NoMatchingEngineKey();

    /// @notice `signer` is already an IVS signer of `marketId`.
    error IvsSignerAlreadyAdded(uint256 marketId, address signer);

    /// @notice `signer` is not an IVS signer of `marketId`.
    error NotIvsSigner(uint256 marketId, address signer);

    /// @notice The creator removed `signer` from `marketId`; its attestation cannot re-admit it.
    error IvsSignerRevoked(uint256 marketId, address signer);

    /// @notice `generator` has no enclave key registered for `marketId`.
    error GeneratorKeyNotFound(uint256 marketId, address generator);

    /// @notice The enclave key `enclave` did not sign this registration (`generatorKeyRegistrationDigest` of the
    /// caller and the market): an attestation copied from another generator's registration registers nothing.
    error InvalidEnclaveSignature(address enclave);

    /// @notice `signer` was already attested for `recordedImageId`, but the new attestation names `imageId`.
    error EnclaveImageConflict(address signer, bytes32 recordedImageId, bytes32 imageId);

    /// @notice The attestation verifier used for all attested keys changed.
    event AttestationVerifierSet(address indexed attestationVerifier);

    /// @notice The market view (the ProofMarketplace) changed.
    event MarketViewSet(address indexed marketView);

    /// @notice The enclave image the ME must run changed; zero means the KEY_ADMIN sets the ME key directly.
    event MatchingEngineImageSet(bytes32 indexed imageId);

    /// @notice The Matching Engine key changed from `previousPubkey` to `pubkey`. Input keys of confidential asks
    /// that were wrapped to `previousPubkey` cannot be read by the new ME: their requesters must re-create them.
    /// @param previousSigner Address of `previousPubkey`; zero when no ME key was set.
    /// @param signer Address of `pubkey`; signs assignment batches.
    /// @param previousPubkey The replaced public key; empty when no ME key was set.
    /// @param pubkey 64-byte public key requesters wrap input keys to.
    /// @param imageId Attested enclave image; zero when set directly (`setMatchingEngineKey`).
    /// @param timestampMs Attestation timestamp (Unix ms); zero when set directly.
    event MatchingEngineKeySet(
        address indexed previousSigner,
        address indexed signer,
        bytes previousPubkey,
        bytes pubkey,
        bytes32 indexed imageId,
        uint64 timestampMs
    );

    /// @notice The Matching Engine key `signer` was removed; no ME key is set now. Input keys of confidential asks
    /// that were wrapped to `pubkey` cannot be read by a later ME: their requesters must re-create them.
    /// @param signer Address of `pubkey`.
    /// @param pubkey The removed public key.
    event MatchingEngineKeyRemoved(address indexed signer, bytes pubkey);

    /// @notice `signer` may now sign invalid-input attestations for `marketId`.
    /// @param imageId Attested enclave image; zero when added by the market creator.
    event IvsSignerAdded(uint256 indexed marketId, address indexed signer, bytes pubkey, bytes32 imageId);

    /// @notice The market creator removed (and revoked) `signer` for `marketId`.
    event IvsSignerRemoved(uint256 indexed marketId, address indexed signer);

    /// @notice `generator` registered (or rotated to) the enclave key `pubkey` for `marketId`.
    /// @param enclave Address of `pubkey`.
    /// @param imageId Attested enclave image; zero for a key registered without attestation (public markets).
    event GeneratorKeyRegistered(
        uint256 indexed marketId, address indexed generator, address indexed enclave, bytes pubkey, bytes32 imageId
    );

    /// @notice `generator` removed its enclave key for `marketId`.
    event GeneratorKeyRemoved(uint256 indexed marketId, address indexed generator);

    /// @notice First attestation of the enclave key `signer`: it runs `imageId` (see `enclaveImageOf`).
    event EnclaveImageRecorded(address indexed signer, bytes32 indexed imageId);

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the market view (the ProofMarketplace proxy). DEFAULT_ADMIN_ROLE only.
    // A parameter of an interface declaration named like a getter: with no body, nothing is shadowed.
    // slither-disable-next-line shadowing-local
    function setMarketView(IMarketView marketView) external;

    /// @notice Sets the attestation verifier. DEFAULT_ADMIN_ROLE only.
    // A parameter of an interface declaration named like a getter: with no body, nothing is shadowed.
    // slither-disable-next-line shadowing-local
    function setAttestationVerifier(IAttestationVerifier attestationVerifier) external;

    /// @notice Sets the image the Matching Engine enclave must run (zero: KEY_ADMIN sets the key directly).
    /// Removes the current ME key, which was admitted under the old rule. DEFAULT_ADMIN_ROLE only.
    function setMatchingEngineImage(bytes32 imageId) external;

    /// @notice Stops the registration of keys (removals stay open). PAUSER_ROLE only: a guardian acts at once,
    /// while DEFAULT_ADMIN_ROLE sits behind the timelock.
    function pause() external;

    /// @notice Resumes registrations. PAUSER_ROLE only.
    function unpause() external;

    // ---------------------------------------------------------------------------------------------------------
    // Matching Engine
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the ME key directly. KEY_ADMIN_ROLE only, and only while no ME image is configured
    /// (dev and public deployments).
    function setMatchingEngineKey(bytes calldata pubkey) external;

    /// @notice Sets the ME key of an enclave attested for the configured ME image. KEY_ADMIN_ROLE only: the
    /// attestation proves that the key lives in an enclave running the ME image, not whose enclave it is, and the
    /// image is public, so anyone could obtain one; the operator picks which attested enclave is the ME. The
    /// attestation must be newer than the attestation of the current (or last removed) ME key.
    function setMatchingEngineKeyWithAttestation(bytes calldata pubkey, uint64 timestampMs, bytes calldata signature)
        external;

    /// @notice Removes the current ME key (e.g. when it is compromised). KEY_ADMIN_ROLE only.
    function removeMatchingEngineKey() external;

    // ---------------------------------------------------------------------------------------------------------
    // IVS signers
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Adds an IVS signer key to a market whose IVS is not enclave-bound (`ivsImageId == 0`). Market
    /// creator only. Also lifts an earlier revocation of that key.
    function addIvsSigner(uint256 marketId, bytes calldata pubkey) external;

    /// @notice Adds the key of an IVS enclave attested for the market's `ivsImageId`. Anyone may relay the
    /// attestation; keys the creator removed stay out.
    function addIvsSignerWithAttestation(
        uint256 marketId,
        bytes calldata pubkey,
        uint64 timestampMs,
        bytes calldata signature
    ) external;

    /// @notice Removes and revokes an IVS signer of a market. Market creator only.
    function removeIvsSigner(uint256 marketId, address signer) external;

    // ---------------------------------------------------------------------------------------------------------
    // Generator keys
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Registers (or rotates) the caller's encryption key for a public market (`proverImageId == 0`)
    /// without attestation (optional encryption of inputs).
    function registerGeneratorKey(uint256 marketId, bytes calldata pubkey) external;

    /// @notice Registers (or rotates) the caller's enclave key for a market, with an attestation for `imageId`,
    /// which must be one of the market's prover images, and the enclave key's own signature naming the caller and
    /// the market (`generatorKeyRegistrationDigest`): the attestation says which image holds the key, the enclave
    /// signature says whose key it is.
    /// @param signature The attestation signer's EIP-712 `EnclaveAttestation` signature.
    /// @param enclaveSignature The enclave key's EIP-712 `GeneratorKeyRegistration` signature.
    function registerGeneratorKeyWithAttestation(
        uint256 marketId,
        bytes calldata pubkey,
        bytes32 imageId,
        uint64 timestampMs,
        bytes calldata signature,
        bytes calldata enclaveSignature
    ) external;

    /// @notice Removes the caller's key for `marketId`. The enclave's image record (`enclaveImageOf`) stays.
    function removeGeneratorKey(uint256 marketId) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Role allowed to set the ME key (directly while no ME image is configured, else with an attestation
    /// for it) and to remove it.
    function KEY_ADMIN_ROLE() external view returns (bytes32);

    /// @notice Role allowed to pause and unpause key registrations.
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice The current ME key: its address and public key (zero and empty when none is set).
    function matchingEngineKey() external view returns (address signer, bytes memory pubkey);

    /// @notice The image the ME enclave must run; zero when the KEY_ADMIN sets the key directly.
    function matchingEngineImage() external view returns (bytes32);

    /// @notice Timestamp (Unix ms) of the newest accepted ME attestation; a new one must be later.
    function matchingEngineAttestedAt() external view returns (uint64);

    /// @notice Registration state of `signer` as IVS signer of `marketId`.
    function ivsSignerStatus(uint256 marketId, address signer) external view returns (IvsSignerStatus);

    /// @notice `generator`'s encryption key for `marketId` (empty when none).
    function generatorKey(uint256 marketId, address generator) external view returns (bytes memory pubkey);

    /// @notice EIP-712 type hash of `GeneratorKeyRegistration(address generator,uint256 marketId)`, which a
    /// generator's enclave key signs to be registered for that generator and market.
    function GENERATOR_KEY_REGISTRATION_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 digest an enclave key signs to be registered as `generator`'s key for `marketId`; domain
    /// name "Kalypso EntityKeyRegistry", version "1", the chain id and this contract (the proxy).
    function generatorKeyRegistrationDigest(address generator, uint256 marketId) external view returns (bytes32);

    /// @notice The image the enclave key `signer` was attested for (zero when never attested). Set on the first
    /// attestation of the key in any role and kept after the key is removed from a role: it is a fact about the
    /// key, not a permission.
    function enclaveImageOf(address signer) external view returns (bytes32);

    /// @notice The attestation verifier.
    function attestationVerifier() external view returns (IAttestationVerifier);

    /// @notice The market view (zero until set).
    function marketView() external view returns (IMarketView);
}

/// @title EntityKeyRegistry
/// @notice Registry of ME, IVS and generator enclave keys (see {IEntityKeyRegistry}).
/// @dev Upgradeable (UUPS) with ERC-7201 storage. The interface lives in this file because
/// `interfaces/IEntityKeyRegistry.sol` holds the marketplace-facing view that it extends.
contract EntityKeyRegistry is
    IEntityKeyRegistry,
    Initializable,
    UUPSUpgradeable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    EIP712Upgradeable
{
    /// @inheritdoc IEntityKeyRegistry
    bytes32 public constant KEY_ADMIN_ROLE = keccak256("KEY_ADMIN_ROLE");
    /// @inheritdoc IEntityKeyRegistry
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @inheritdoc IEntityKeyRegistry
    bytes32 public constant GENERATOR_KEY_REGISTRATION_TYPEHASH =
        keccak256("GeneratorKeyRegistration(address generator,uint256 marketId)");

    /// @dev Length of an uncompressed secp256k1 public key without the 0x04 prefix.
    uint256 private constant PUBLIC_KEY_LENGTH = 64;

    /// @custom:storage-location erc7201:kalypso.storage.EntityKeyRegistry
    struct Storage {
        IAttestationVerifier attestationVerifier;
        IMarketView marketView;
        bytes32 meImageId;
        address meSigner;
        uint64 meAttestedAtMs;
        bytes mePubkey;
        mapping(uint256 marketId => mapping(address signer => IvsSignerStatus)) ivsSigners;
        mapping(uint256 marketId => mapping(address generator => bytes pubkey)) generatorKeys;
        mapping(address signer => bytes32 imageId) enclaveImages;
    }

    // keccak256(abi.encode(uint256(keccak256("kalypso.storage.EntityKeyRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x57183df08b1b31dbc45f9b44db0e765f2707aad80bedcf8910d0645fca475b00;

    constructor() {
        _disableInitializers();
    }

    /// @notice Initialises the proxy.
    /// @param admin Receives DEFAULT_ADMIN_ROLE, KEY_ADMIN_ROLE and PAUSER_ROLE (the deployer hands them on).
    /// @param attestationVerifier_ Checks the attestations of enclave keys.
    /// @param marketView_ The ProofMarketplace, or zero when it is deployed later (see `setMarketView`).
    function initialize(address admin, IAttestationVerifier attestationVerifier_, IMarketView marketView_)
        external
        initializer
    {
        if (admin == address(0)) revert ZeroAddress();
        __AccessControl_init();
        __Pausable_init();
        __EIP712_init("Kalypso EntityKeyRegistry", "1");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(KEY_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _setAttestationVerifier(attestationVerifier_);
        if (address(marketView_) != address(0)) _setMarketView(marketView_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IEntityKeyRegistry
    function setMarketView(IMarketView marketView_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMarketView(marketView_);
    }

    /// @inheritdoc IEntityKeyRegistry
    function setAttestationVerifier(IAttestationVerifier attestationVerifier_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setAttestationVerifier(attestationVerifier_);
    }

    /// @inheritdoc IEntityKeyRegistry
    function setMatchingEngineImage(bytes32 imageId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s().meImageId = imageId;
        emit MatchingEngineImageSet(imageId);
        _clearMatchingEngineKey();
    }

    /// @inheritdoc IEntityKeyRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IEntityKeyRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Matching Engine
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IEntityKeyRegistry
    function setMatchingEngineKey(bytes calldata pubkey) external whenNotPaused onlyRole(KEY_ADMIN_ROLE) {
        Storage storage $ = _s();
        if ($.meImageId != bytes32(0)) revert AttestationRequired($.meImageId);
        _replaceMatchingEngineKey(_keyAddress(pubkey), pubkey, bytes32(0), 0);
    }

    /// @inheritdoc IEntityKeyRegistry
    function setMatchingEngineKeyWithAttestation(bytes calldata pubkey, uint64 timestampMs, bytes calldata signature)
        external
        whenNotPaused
        onlyRole(KEY_ADMIN_ROLE)
    {
        Storage storage $ = _s();
        bytes32 imageId = $.meImageId;
        if (imageId == bytes32(0)) revert NoEnclaveImage();
        if (timestampMs <= $.meAttestedAtMs) revert StaleAttestation(timestampMs, $.meAttestedAtMs);
        address signer = _verifyAttestation(pubkey, imageId, timestampMs, signature);
        $.meAttestedAtMs = timestampMs;
        _replaceMatchingEngineKey(signer, pubkey, imageId, timestampMs);
    }

    /// @inheritdoc IEntityKeyRegistry
    function removeMatchingEngineKey() external onlyRole(KEY_ADMIN_ROLE) {
        if (_s().meSigner == address(0)) revert NoMatchingEngineKey();
        _clearMatchingEngineKey();
    }

    // ---------------------------------------------------------------------------------------------------------
    // IVS signers
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IEntityKeyRegistry
    function addIvsSigner(uint256 marketId, bytes calldata pubkey) external whenNotPaused {
        IMarketView market = _existingMarket(marketId);
        _onlyCreator(market, marketId);
        bytes32 ivsImageId = market.ivsImageId(marketId);
        if (ivsImageId != bytes32(0)) revert AttestationRequired(ivsImageId);
        address signer = _keyAddress(pubkey);
        mapping(address => IvsSignerStatus) storage signers = _s().ivsSigners[marketId];
        if (signers[signer] == IvsSignerStatus.Active) revert IvsSignerAlreadyAdded(marketId, signer);
        signers[signer] = IvsSignerStatus.Active;
        emit IvsSignerAdded(marketId, signer, pubkey, bytes32(0));
    }

    /// @inheritdoc IEntityKeyRegistry
    function addIvsSignerWithAttestation(
        uint256 marketId,
        bytes calldata pubkey,
        uint64 timestampMs,
        bytes calldata signature
    ) external whenNotPaused {
        bytes32 ivsImageId = _existingMarket(marketId).ivsImageId(marketId);
        if (ivsImageId == bytes32(0)) revert NoEnclaveImage();
        address signer = _verifyAttestation(pubkey, ivsImageId, timestampMs, signature);
        mapping(address => IvsSignerStatus) storage signers = _s().ivsSigners[marketId];
        IvsSignerStatus status = signers[signer];
        if (status == IvsSignerStatus.Active) revert IvsSignerAlreadyAdded(marketId, signer);
        if (status == IvsSignerStatus.Revoked) revert IvsSignerRevoked(marketId, signer);
        signers[signer] = IvsSignerStatus.Active;
        emit IvsSignerAdded(marketId, signer, pubkey, ivsImageId);
    }

    /// @inheritdoc IEntityKeyRegistry
    function removeIvsSigner(uint256 marketId, address signer) external {
        _onlyCreator(_existingMarket(marketId), marketId);
        mapping(address => IvsSignerStatus) storage signers = _s().ivsSigners[marketId];
        if (signers[signer] != IvsSignerStatus.Active) revert NotIvsSigner(marketId, signer);
        signers[signer] = IvsSignerStatus.Revoked;
        emit IvsSignerRemoved(marketId, signer);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Generator keys
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IEntityKeyRegistry
    function registerGeneratorKey(uint256 marketId, bytes calldata pubkey) external whenNotPaused {
        bytes32 proverImageId = _existingMarket(marketId).proverImageId(marketId);
        if (proverImageId != bytes32(0)) revert AttestationRequired(proverImageId);
        address enclave = _keyAddress(pubkey);
        _s().generatorKeys[marketId][msg.sender] = pubkey;
        emit GeneratorKeyRegistered(marketId, msg.sender, enclave, pubkey, bytes32(0));
    }

    /// @inheritdoc IEntityKeyRegistry
    function registerGeneratorKeyWithAttestation(
        uint256 marketId,
        bytes calldata pubkey,
        bytes32 imageId,
        uint64 timestampMs,
        bytes calldata signature,
        bytes calldata enclaveSignature
    ) external whenNotPaused {
        _checkProverImage(marketId, imageId);
        address enclave = _verifyAttestation(pubkey, imageId, timestampMs, signature);
        _checkEnclaveSignature(enclave, marketId, enclaveSignature);
        _s().generatorKeys[marketId][msg.sender] = pubkey;
        emit GeneratorKeyRegistered(marketId, msg.sender, enclave, pubkey, imageId);
    }

    /// @inheritdoc IEntityKeyRegistry
    function removeGeneratorKey(uint256 marketId) external {
        Storage storage $ = _s();
        if ($.generatorKeys[marketId][msg.sender].length == 0) revert GeneratorKeyNotFound(marketId, msg.sender);
        delete $.generatorKeys[marketId][msg.sender];
        emit GeneratorKeyRemoved(marketId, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IEntityKeyRegistryView
    function matchingEngine() external view returns (address) {
        return _s().meSigner;
    }

    /// @inheritdoc IEntityKeyRegistryView
    function isIvsSigner(uint256 marketId, address signer) external view returns (bool) {
        return _s().ivsSigners[marketId][signer] == IvsSignerStatus.Active;
    }

    /// @inheritdoc IEntityKeyRegistryView
    function hasGeneratorKey(uint256 marketId, address generator) external view returns (bool) {
        return _s().generatorKeys[marketId][generator].length != 0;
    }

    /// @inheritdoc IEntityKeyRegistry
    function matchingEngineKey() external view returns (address signer, bytes memory pubkey) {
        Storage storage $ = _s();
        return ($.meSigner, $.mePubkey);
    }

    /// @inheritdoc IEntityKeyRegistry
    function matchingEngineImage() external view returns (bytes32) {
        return _s().meImageId;
    }

    /// @inheritdoc IEntityKeyRegistry
    function matchingEngineAttestedAt() external view returns (uint64) {
        return _s().meAttestedAtMs;
    }

    /// @inheritdoc IEntityKeyRegistry
    function ivsSignerStatus(uint256 marketId, address signer) external view returns (IvsSignerStatus) {
        return _s().ivsSigners[marketId][signer];
    }

    /// @inheritdoc IEntityKeyRegistry
    function generatorKey(uint256 marketId, address generator) external view returns (bytes memory) {
        return _s().generatorKeys[marketId][generator];
    }

    /// @inheritdoc IEntityKeyRegistry
    function generatorKeyRegistrationDigest(address generator, uint256 marketId) external view returns (bytes32) {
        return _generatorKeyRegistrationDigest(generator, marketId);
    }

    /// @inheritdoc IEntityKeyRegistry
    function enclaveImageOf(address signer) external view returns (bytes32) {
        return _s().enclaveImages[signer];
    }

    /// @inheritdoc IEntityKeyRegistry
    function attestationVerifier() external view returns (IAttestationVerifier) {
        return _s().attestationVerifier;
    }

    /// @inheritdoc IEntityKeyRegistry
    function marketView() external view returns (IMarketView) {
        return _s().marketView;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    function _setMarketView(IMarketView marketView_) internal {
        if (address(marketView_) == address(0)) revert ZeroAddress();
        _s().marketView = marketView_;
        emit MarketViewSet(address(marketView_));
    }

    function _setAttestationVerifier(IAttestationVerifier attestationVerifier_) internal {
        if (address(attestationVerifier_) == address(0)) revert ZeroAddress();
        _s().attestationVerifier = attestationVerifier_;
        emit AttestationVerifierSet(address(attestationVerifier_));
    }

    /// @dev Stores `pubkey` (of `signer`) as the ME key and emits it with the key it replaces.
    function _replaceMatchingEngineKey(address signer, bytes calldata pubkey, bytes32 imageId, uint64 timestampMs)
        internal
    {
        Storage storage $ = _s();
        address previousSigner = $.meSigner;
        bytes memory previousPubkey = $.mePubkey;
        $.meSigner = signer;
        $.mePubkey = pubkey;
        emit MatchingEngineKeySet(previousSigner, signer, previousPubkey, pubkey, imageId, timestampMs);
    }

    /// @dev Removes the ME key if one is set. Keeps `meAttestedAtMs`, so the removed key's attestation cannot
    /// bring it back.
    function _clearMatchingEngineKey() internal {
        Storage storage $ = _s();
        address signer = $.meSigner;
        if (signer == address(0)) return;
        bytes memory pubkey = $.mePubkey;
        delete $.meSigner;
        delete $.mePubkey;
        emit MatchingEngineKeyRemoved(signer, pubkey);
    }

    /// @dev Checks the attestation (reverting with the verifier's errors) and records the enclave's image.
    function _verifyAttestation(bytes calldata pubkey, bytes32 imageId, uint64 timestampMs, bytes calldata signature)
        internal
        returns (address enclave)
    {
        Storage storage $ = _s();
        enclave = _keyAddress(pubkey);
        // verify reverts on every failure (IAttestationVerifier); the address it returns is `enclave`, derived above.
        // slither-disable-next-line unused-return
        $.attestationVerifier.verify(pubkey, imageId, timestampMs, signature);
        bytes32 recorded = $.enclaveImages[enclave];
        if (recorded == bytes32(0)) {
            $.enclaveImages[enclave] = imageId;
            emit EnclaveImageRecorded(enclave, imageId);
        } else if (recorded != imageId) {
            revert EnclaveImageConflict(enclave, recorded, imageId);
        }
    }

    function _checkProverImage(uint256 marketId, bytes32 imageId) internal view {
        if (imageId == bytes32(0) || !_existingMarket(marketId).isProverImage(marketId, imageId)) {
            revert ImageNotAllowed(marketId, imageId);
        }
    }

    /// @dev Reverts unless `enclave` signed the caller's registration for `marketId`.
    function _checkEnclaveSignature(address enclave, uint256 marketId, bytes calldata enclaveSignature) internal view {
        // The third value is the error's argument: any error means the enclave did not sign.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(_generatorKeyRegistrationDigest(msg.sender, marketId), enclaveSignature);
        if (err != ECDSA.RecoverError.NoError || signer != enclave) revert InvalidEnclaveSignature(enclave);
    }

    function _generatorKeyRegistrationDigest(address generator, uint256 marketId) internal view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(GENERATOR_KEY_REGISTRATION_TYPEHASH, generator, marketId)));
    }

    /// @dev The market view, after checking that `marketId` exists.
    function _existingMarket(uint256 marketId) internal view returns (IMarketView market) {
        market = _s().marketView;
        if (address(market) == address(0)) revert MarketViewNotSet();
        if (!market.marketExists(marketId)) revert MarketNotFound(marketId);
    }

    function _onlyCreator(IMarketView market, uint256 marketId) internal view {
        if (market.marketCreator(marketId) != msg.sender) revert NotMarketCreator(marketId, msg.sender);
    }

    /// @dev The address of a 64-byte public key; reverts for any other length.
    function _keyAddress(bytes calldata pubkey) internal pure returns (address) {
        if (pubkey.length != PUBLIC_KEY_LENGTH) revert InvalidPublicKeyLength(pubkey.length);
        return address(uint160(uint256(keccak256(pubkey))));
    }

    /// @dev Upgrades are authorised by DEFAULT_ADMIN_ROLE only.
    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}

    function _s() internal pure returns (Storage storage $) {
        assembly ("memory-safe") {
            $.slot := STORAGE_SLOT
        }
    }
}
