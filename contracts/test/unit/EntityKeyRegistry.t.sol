// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AttestationVerifier} from "../../src/attestation/AttestationVerifier.sol";
import {IAttestationVerifier} from "../../src/interfaces/IAttestationVerifier.sol";
import {IMarketView} from "../../src/interfaces/IMarketView.sol";
import {ITeeVerifier} from "../../src/interfaces/ITeeVerifier.sol";
import {EntityKeyRegistry, IEntityKeyRegistry} from "../../src/registry/EntityKeyRegistry.sol";
import {TeeVerifier} from "../../src/verifiers/TeeVerifier.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @dev Stand-in for the ProofMarketplace's market facts.
contract MarketViewStub is IMarketView {
    struct Market {
        bool exists;
        address creator;
        bytes32 proverImageId;
        bytes32 ivsImageId;
    }

    mapping(uint256 => Market) internal _markets;
    mapping(uint256 => mapping(bytes32 => bool)) internal _extraImages;

    function setMarket(uint256 marketId, address creator, bytes32 proverImageId_, bytes32 ivsImageId_) external {
        _markets[marketId] = Market(true, creator, proverImageId_, ivsImageId_);
    }

    function addExtraImage(uint256 marketId, bytes32 imageId) external {
        _extraImages[marketId][imageId] = true;
    }

    function marketExists(uint256 marketId) external view returns (bool) {
        return _markets[marketId].exists;
    }

    function marketCreator(uint256 marketId) external view returns (address) {
        return _markets[marketId].creator;
    }

    function proverImageId(uint256 marketId) external view returns (bytes32) {
        return _markets[marketId].proverImageId;
    }

    function ivsImageId(uint256 marketId) external view returns (bytes32) {
        return _markets[marketId].ivsImageId;
    }

    function isProverImage(uint256 marketId, bytes32 imageId) external view returns (bool) {
        Market storage m = _markets[marketId];
        return m.exists && imageId != bytes32(0) && (imageId == m.proverImageId || _extraImages[marketId][imageId]);
    }
}

/// @notice Unit tests of AttestationVerifier, EntityKeyRegistry and TeeVerifier (one file: recompiles are slow).
contract EntityKeyRegistryTest is Test {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant ATTESTATION_TYPEHASH =
        keccak256("EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)");
    bytes32 internal constant TEE_PROOF_TYPEHASH =
        keccak256("TeeProof(bytes32 inputsHash,bytes32 secretCommitment,bytes32 outputHash,address generator)");
    bytes32 internal constant GENERATOR_KEY_REGISTRATION_TYPEHASH =
        keccak256("GeneratorKeyRegistration(address generator,uint256 marketId)");
    bytes32 internal constant KEY_ADMIN_ROLE = keccak256("KEY_ADMIN_ROLE");
    bytes32 internal constant AV_SLOT = 0xb11838783b7eef33b7461fa2eccc5da4c9f4dc8b32a2ad4c8cdfa97474ed4900;
    bytes32 internal constant REGISTRY_SLOT = 0x57183df08b1b31dbc45f9b44db0e765f2707aad80bedcf8910d0645fca475b00;

    uint64 internal constant MAX_AGE_MS = 600_000;
    uint64 internal constant SKEW_MS = 120_000;
    uint256 internal constant NOW_S = 1_700_000_000;
    uint64 internal constant NOW_MS = uint64(NOW_S * 1000);

    uint256 internal constant PUBLIC_MARKET = 1;
    uint256 internal constant TEE_MARKET = 2;
    uint256 internal constant MISSING_MARKET = 99;

    bytes32 internal constant ME_IMAGE = keccak256("me image");
    bytes32 internal constant PROVER_IMAGE = keccak256("prover image");
    bytes32 internal constant EXTRA_IMAGE = keccak256("extra prover image");
    bytes32 internal constant IVS_IMAGE = keccak256("ivs image");
    bytes32 internal constant OTHER_IMAGE = keccak256("other image");

    address internal admin = makeAddr("admin");
    address internal keyAdmin = makeAddr("keyAdmin");
    address internal pauser = makeAddr("pauser");
    address internal creator = makeAddr("creator");
    address internal generator = makeAddr("generator");
    address internal stranger = makeAddr("stranger");

    Vm.Wallet internal attester;
    Vm.Wallet internal rogueAttester;
    Vm.Wallet internal enclaveA;
    Vm.Wallet internal enclaveB;

    AttestationVerifier internal av;
    EntityKeyRegistry internal registry;
    MarketViewStub internal markets;

    function setUp() public {
        vm.warp(NOW_S);
        attester = vm.createWallet("attester");
        rogueAttester = vm.createWallet("rogueAttester");
        enclaveA = vm.createWallet("enclaveA");
        enclaveB = vm.createWallet("enclaveB");

        av = _deployAttestationVerifier();

        markets = new MarketViewStub();
        markets.setMarket(PUBLIC_MARKET, creator, bytes32(0), bytes32(0));
        markets.setMarket(TEE_MARKET, creator, PROVER_IMAGE, IVS_IMAGE);
        markets.addExtraImage(TEE_MARKET, EXTRA_IMAGE);

        registry = _deployRegistry(IMarketView(address(markets)));
        vm.startPrank(admin);
        registry.grantRole(KEY_ADMIN_ROLE, keyAdmin);
        registry.grantRole(registry.PAUSER_ROLE(), pauser);
        registry.renounceRole(registry.PAUSER_ROLE(), admin);
        vm.stopPrank();
    }

    // =========================================================================================================
    // AttestationVerifier: initialisation, upgrades, storage
    // =========================================================================================================

    function test_initialize_setsAttestationVerifierState() public view {
        assertTrue(av.hasRole(av.DEFAULT_ADMIN_ROLE(), admin));
        assertEq(av.maxAttestationAgeMs(), MAX_AGE_MS);
        assertTrue(av.isTrustedSigner(attester.addr));
        assertFalse(av.isTrustedSigner(rogueAttester.addr));
        address[] memory signers = av.trustedSigners();
        assertEq(signers.length, 1);
        assertEq(signers[0], attester.addr);
        assertEq(av.ENCLAVE_ATTESTATION_TYPEHASH(), ATTESTATION_TYPEHASH);
        assertEq(av.MAX_CLOCK_SKEW_MS(), SKEW_MS);
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) = av.eip712Domain();
        assertEq(name, "Kalypso AttestationVerifier");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(av));
    }

    function test_initialize_emitsEvents() public {
        AttestationVerifier impl = new AttestationVerifier();
        vm.expectEmit();
        emit IAttestationVerifier.MaxAttestationAgeSet(MAX_AGE_MS);
        vm.expectEmit();
        emit IAttestationVerifier.TrustedSignerAdded(attester.addr);
        new ERC1967Proxy(
            address(impl), abi.encodeCall(AttestationVerifier.initialize, (admin, MAX_AGE_MS, _one(attester.addr)))
        );
    }

    function test_RevertWhen_attestationVerifierInitializedTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        av.initialize(stranger, MAX_AGE_MS, new address[](0));
    }

    function test_RevertWhen_attestationVerifierImplementationInitialized() public {
        AttestationVerifier impl = new AttestationVerifier();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(admin, MAX_AGE_MS, new address[](0));
    }

    function test_RevertWhen_attestationVerifierInitializedWithZeroAdmin() public {
        AttestationVerifier impl = new AttestationVerifier();
        vm.expectRevert(IAttestationVerifier.ZeroAddress.selector);
        new ERC1967Proxy(
            address(impl), abi.encodeCall(AttestationVerifier.initialize, (address(0), MAX_AGE_MS, new address[](0)))
        );
    }

    function test_RevertWhen_attestationVerifierInitializedWithZeroMaxAge() public {
        AttestationVerifier impl = new AttestationVerifier();
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidMaxAttestationAge.selector, uint64(0)));
        new ERC1967Proxy(address(impl), abi.encodeCall(AttestationVerifier.initialize, (admin, 0, new address[](0))));
    }

    function test_RevertWhen_attestationVerifierInitializedWithDuplicateSigner() public {
        AttestationVerifier impl = new AttestationVerifier();
        address[] memory signers = new address[](2);
        signers[0] = attester.addr;
        signers[1] = attester.addr;
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.SignerAlreadyTrusted.selector, attester.addr));
        new ERC1967Proxy(address(impl), abi.encodeCall(AttestationVerifier.initialize, (admin, MAX_AGE_MS, signers)));
    }

    function test_upgradeToAndCall_attestationVerifierByAdmin() public {
        AttestationVerifier newImpl = new AttestationVerifier();
        vm.prank(admin);
        av.upgradeToAndCall(address(newImpl), "");
        assertEq(_implementation(address(av)), address(newImpl));
        // State survives the upgrade.
        assertTrue(av.isTrustedSigner(attester.addr));
        assertEq(av.maxAttestationAgeMs(), MAX_AGE_MS);
    }

    function test_RevertWhen_attestationVerifierUpgradedByNonAdmin() public {
        AttestationVerifier newImpl = new AttestationVerifier();
        address oldImpl = _implementation(address(av));
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        vm.prank(stranger);
        av.upgradeToAndCall(address(newImpl), "");
        assertEq(_implementation(address(av)), oldImpl);
    }

    function test_RevertWhen_attestationVerifierImplementationUpgradedDirectly() public {
        AttestationVerifier impl = AttestationVerifier(_implementation(address(av)));
        AttestationVerifier newImpl = new AttestationVerifier();
        vm.expectRevert(UUPSUpgradeable.UUPSUnauthorizedCallContext.selector);
        vm.prank(admin);
        impl.upgradeToAndCall(address(newImpl), "");
    }

    function test_storageSlot_attestationVerifierIsErc7201() public view {
        bytes32 expected = keccak256(abi.encode(uint256(keccak256("kalypso.storage.AttestationVerifier")) - 1))
            & ~bytes32(uint256(0xff));
        assertEq(expected, AV_SLOT);
        // maxAttestationAgeMs is the first member of the namespaced struct.
        assertEq(uint256(vm.load(address(av), AV_SLOT)), MAX_AGE_MS);
    }

    // =========================================================================================================
    // AttestationVerifier: admin
    // =========================================================================================================

    function test_addTrustedSigner_addsAndEmits() public {
        vm.expectEmit(address(av));
        emit IAttestationVerifier.TrustedSignerAdded(rogueAttester.addr);
        vm.prank(admin);
        av.addTrustedSigner(rogueAttester.addr);
        assertTrue(av.isTrustedSigner(rogueAttester.addr));
        assertEq(av.trustedSigners().length, 2);
    }

    function test_RevertWhen_addTrustedSignerByNonAdmin() public {
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        vm.prank(stranger);
        av.addTrustedSigner(stranger);
    }

    function test_RevertWhen_addTrustedSignerZero() public {
        vm.expectRevert(IAttestationVerifier.ZeroAddress.selector);
        vm.prank(admin);
        av.addTrustedSigner(address(0));
    }

    function test_RevertWhen_addTrustedSignerTwice() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.SignerAlreadyTrusted.selector, attester.addr));
        vm.prank(admin);
        av.addTrustedSigner(attester.addr);
    }

    function test_removeTrustedSigner_removesAndEmits() public {
        vm.expectEmit(address(av));
        emit IAttestationVerifier.TrustedSignerRemoved(attester.addr);
        vm.prank(admin);
        av.removeTrustedSigner(attester.addr);
        assertFalse(av.isTrustedSigner(attester.addr));
        assertEq(av.trustedSigners().length, 0);
    }

    function test_RevertWhen_removeTrustedSignerByNonAdmin() public {
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        vm.prank(stranger);
        av.removeTrustedSigner(attester.addr);
    }

    function test_RevertWhen_removeTrustedSignerNotTrusted() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.SignerNotTrusted.selector, stranger));
        vm.prank(admin);
        av.removeTrustedSigner(stranger);
    }

    function test_setMaxAttestationAge_setsAndEmits() public {
        vm.expectEmit(address(av));
        emit IAttestationVerifier.MaxAttestationAgeSet(1000);
        vm.prank(admin);
        av.setMaxAttestationAge(1000);
        assertEq(av.maxAttestationAgeMs(), 1000);
    }

    function test_RevertWhen_setMaxAttestationAgeByNonAdmin() public {
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        vm.prank(stranger);
        av.setMaxAttestationAge(1000);
    }

    function test_RevertWhen_setMaxAttestationAgeZero() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidMaxAttestationAge.selector, uint64(0)));
        vm.prank(admin);
        av.setMaxAttestationAge(0);
    }

    // =========================================================================================================
    // AttestationVerifier: verify
    // =========================================================================================================

    function test_verify_acceptsFreshAttestation() public view {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        assertEq(av.verify(pk, PROVER_IMAGE, NOW_MS, sig), enclaveA.addr);
    }

    function test_verify_acceptsAgeAndSkewBoundaries() public view {
        bytes memory pk = _pub(enclaveA);
        uint64 oldest = NOW_MS - MAX_AGE_MS;
        assertEq(av.verify(pk, PROVER_IMAGE, oldest, _attest(pk, PROVER_IMAGE, oldest)), enclaveA.addr);
        uint64 newest = NOW_MS + SKEW_MS;
        assertEq(av.verify(pk, PROVER_IMAGE, newest, _attest(pk, PROVER_IMAGE, newest)), enclaveA.addr);
    }

    function testFuzz_verify_freshnessWindow(uint64 timestampMs) public view {
        timestampMs = uint64(bound(timestampMs, NOW_MS - MAX_AGE_MS, NOW_MS + SKEW_MS));
        bytes memory pk = _pub(enclaveB);
        assertEq(av.verify(pk, IVS_IMAGE, timestampMs, _attest(pk, IVS_IMAGE, timestampMs)), enclaveB.addr);
    }

    function test_RevertWhen_verifyExpired() public {
        bytes memory pk = _pub(enclaveA);
        uint64 ts = NOW_MS - MAX_AGE_MS - 1;
        bytes memory sig = _attest(pk, PROVER_IMAGE, ts);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.AttestationExpired.selector, ts, NOW_MS));
        av.verify(pk, PROVER_IMAGE, ts, sig);
    }

    function test_RevertWhen_verifyExpiredAfterTimePasses() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.warp(NOW_S + MAX_AGE_MS / 1000 + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationVerifier.AttestationExpired.selector, NOW_MS, NOW_MS + MAX_AGE_MS + 1000)
        );
        av.verify(pk, PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifyFromFuture() public {
        bytes memory pk = _pub(enclaveA);
        uint64 ts = NOW_MS + SKEW_MS + 1;
        bytes memory sig = _attest(pk, PROVER_IMAGE, ts);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.AttestationFromFuture.selector, ts, NOW_MS));
        av.verify(pk, PROVER_IMAGE, ts, sig);
    }

    function test_RevertWhen_verifyUntrustedSigner() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig =
            _sign(rogueAttester, _attestationDigest(address(av), block.chainid, pk, PROVER_IMAGE, NOW_MS));
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.UntrustedSigner.selector, rogueAttester.addr));
        av.verify(pk, PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifySignerWasRemoved() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.prank(admin);
        av.removeTrustedSigner(attester.addr);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.UntrustedSigner.selector, attester.addr));
        av.verify(pk, PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifyWrongImage() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, OTHER_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifyWrongKey() public {
        bytes memory sig = _attest(_pub(enclaveA), PROVER_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        av.verify(_pub(enclaveB), PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifyWrongTimestamp() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS - 1, sig);
    }

    function test_RevertWhen_verifySignedForAnotherVerifyingContract() public {
        AttestationVerifier other = _deployAttestationVerifier();
        bytes memory pk = _pub(enclaveA);
        bytes memory sigForOther =
            _sign(attester, _attestationDigest(address(other), block.chainid, pk, PROVER_IMAGE, NOW_MS));
        assertEq(other.verify(pk, PROVER_IMAGE, NOW_MS, sigForOther), enclaveA.addr);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS, sigForOther);
    }

    function test_RevertWhen_verifySignedForAnotherChain() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _sign(attester, _attestationDigest(address(av), block.chainid + 1, pk, PROVER_IMAGE, NOW_MS));
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifyReplayedAfterChainFork() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.chainId(block.chainid + 1);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS, sig);
    }

    function test_RevertWhen_verifyPublicKeyWrongLength() public {
        bytes memory prefixed = abi.encodePacked(bytes1(0x04), _pub(enclaveA));
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidPublicKeyLength.selector, uint256(65)));
        av.verify(prefixed, PROVER_IMAGE, NOW_MS, _attest(prefixed, PROVER_IMAGE, NOW_MS));
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidPublicKeyLength.selector, uint256(0)));
        av.verify("", PROVER_IMAGE, NOW_MS, _attest("", PROVER_IMAGE, NOW_MS));
    }

    function test_RevertWhen_verifySignatureMalformed() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        bytes memory short = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            short[i] = sig[i];
        }
        vm.expectRevert(IAttestationVerifier.InvalidSignature.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS, short);
        vm.expectRevert(IAttestationVerifier.InvalidSignature.selector);
        av.verify(pk, PROVER_IMAGE, NOW_MS, new bytes(65));
    }

    function test_attestationDigest_matchesIndependentEip712() public view {
        bytes memory pk = _pub(enclaveA);
        assertEq(
            av.attestationDigest(pk, PROVER_IMAGE, NOW_MS),
            _attestationDigest(address(av), block.chainid, pk, PROVER_IMAGE, NOW_MS)
        );
    }

    function test_imageIdOf_hashesConcatenatedPcrs() public view {
        bytes memory pcr0 = _filled(48, 0x01);
        bytes memory pcr1 = _filled(48, 0x02);
        bytes memory pcr2 = _filled(48, 0x03);
        assertEq(av.imageIdOf(pcr0, pcr1, pcr2), keccak256(bytes.concat(pcr0, pcr1, pcr2)));
        assertTrue(av.imageIdOf(pcr0, pcr1, pcr2) != av.imageIdOf(pcr1, pcr0, pcr2));
    }

    function test_RevertWhen_imageIdOfPcrWrongLength() public {
        bytes memory ok = _filled(48, 0x01);
        bytes memory bad = _filled(32, 0x01);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidPcrLength.selector, 0, 32));
        av.imageIdOf(bad, ok, ok);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidPcrLength.selector, 1, 32));
        av.imageIdOf(ok, bad, ok);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.InvalidPcrLength.selector, 2, 49));
        av.imageIdOf(ok, ok, _filled(49, 0x01));
    }

    // =========================================================================================================
    // EntityKeyRegistry: initialisation, upgrades, admin
    // =========================================================================================================

    function test_initialize_setsRegistryState() public view {
        assertTrue(registry.hasRole(bytes32(0), admin));
        assertTrue(registry.hasRole(KEY_ADMIN_ROLE, admin));
        assertEq(registry.KEY_ADMIN_ROLE(), KEY_ADMIN_ROLE);
        assertEq(address(registry.attestationVerifier()), address(av));
        assertEq(address(registry.marketView()), address(markets));
        assertEq(registry.matchingEngine(), address(0));
        assertEq(registry.matchingEngineImage(), bytes32(0));
        assertFalse(registry.paused());
    }

    function test_initialize_registryWithoutMarketView() public {
        EntityKeyRegistry impl = new EntityKeyRegistry();
        vm.expectEmit();
        emit IEntityKeyRegistry.AttestationVerifierSet(address(av));
        vm.recordLogs();
        EntityKeyRegistry r = EntityKeyRegistry(
            address(
                new ERC1967Proxy(
                    address(impl), abi.encodeCall(EntityKeyRegistry.initialize, (admin, av, IMarketView(address(0))))
                )
            )
        );
        assertEq(address(r.marketView()), address(0));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != IEntityKeyRegistry.MarketViewSet.selector);
        }
        vm.expectRevert(IEntityKeyRegistry.MarketViewNotSet.selector);
        r.registerGeneratorKey(PUBLIC_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_registryInitializedTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registry.initialize(stranger, av, IMarketView(address(0)));
    }

    function test_RevertWhen_registryImplementationInitialized() public {
        EntityKeyRegistry impl = new EntityKeyRegistry();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(admin, av, IMarketView(address(markets)));
    }

    function test_RevertWhen_registryInitializedWithZeroAdmin() public {
        EntityKeyRegistry impl = new EntityKeyRegistry();
        vm.expectRevert(IEntityKeyRegistry.ZeroAddress.selector);
        new ERC1967Proxy(
            address(impl), abi.encodeCall(EntityKeyRegistry.initialize, (address(0), av, IMarketView(address(0))))
        );
    }

    function test_RevertWhen_registryInitializedWithZeroVerifier() public {
        EntityKeyRegistry impl = new EntityKeyRegistry();
        vm.expectRevert(IEntityKeyRegistry.ZeroAddress.selector);
        new ERC1967Proxy(
            address(impl),
            abi.encodeCall(
                EntityKeyRegistry.initialize, (admin, IAttestationVerifier(address(0)), IMarketView(address(0)))
            )
        );
    }

    function test_upgradeToAndCall_registryByAdmin() public {
        _setMeKeyDirect(enclaveA);
        EntityKeyRegistry newImpl = new EntityKeyRegistry();
        vm.prank(admin);
        registry.upgradeToAndCall(address(newImpl), "");
        assertEq(_implementation(address(registry)), address(newImpl));
        assertEq(registry.matchingEngine(), enclaveA.addr);
        assertEq(address(registry.marketView()), address(markets));
    }

    function test_RevertWhen_registryUpgradedByNonAdmin() public {
        EntityKeyRegistry newImpl = new EntityKeyRegistry();
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        vm.prank(stranger);
        registry.upgradeToAndCall(address(newImpl), "");
        // KEY_ADMIN_ROLE alone does not authorise upgrades either.
        vm.expectRevert(_unauthorized(keyAdmin, bytes32(0)));
        vm.prank(keyAdmin);
        registry.upgradeToAndCall(address(newImpl), "");
    }

    function test_storageSlot_registryIsErc7201() public view {
        bytes32 expected = keccak256(abi.encode(uint256(keccak256("kalypso.storage.EntityKeyRegistry")) - 1))
            & ~bytes32(uint256(0xff));
        assertEq(expected, REGISTRY_SLOT);
        assertEq(address(uint160(uint256(vm.load(address(registry), REGISTRY_SLOT)))), address(av));
        assertEq(
            address(uint160(uint256(vm.load(address(registry), bytes32(uint256(REGISTRY_SLOT) + 1))))), address(markets)
        );
    }

    function test_setMarketView_setsAndEmits() public {
        MarketViewStub other = new MarketViewStub();
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MarketViewSet(address(other));
        vm.prank(admin);
        registry.setMarketView(other);
        assertEq(address(registry.marketView()), address(other));
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.MarketNotFound.selector, PUBLIC_MARKET));
        registry.registerGeneratorKey(PUBLIC_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_setMarketViewByNonAdmin() public {
        vm.expectRevert(_unauthorized(keyAdmin, bytes32(0)));
        vm.prank(keyAdmin);
        registry.setMarketView(IMarketView(stranger));
    }

    function test_RevertWhen_setMarketViewZero() public {
        vm.expectRevert(IEntityKeyRegistry.ZeroAddress.selector);
        vm.prank(admin);
        registry.setMarketView(IMarketView(address(0)));
    }

    function test_setAttestationVerifier_setsAndEmits() public {
        AttestationVerifier other = _deployAttestationVerifier();
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.AttestationVerifierSet(address(other));
        vm.prank(admin);
        registry.setAttestationVerifier(other);
        assertEq(address(registry.attestationVerifier()), address(other));
        // Attestations for the old verifier's domain no longer count.
        _setMeImage(ME_IMAGE);
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, ME_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
    }

    function test_RevertWhen_setAttestationVerifierByNonAdmin() public {
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        vm.prank(stranger);
        registry.setAttestationVerifier(av);
    }

    function test_RevertWhen_setAttestationVerifierZero() public {
        vm.expectRevert(IEntityKeyRegistry.ZeroAddress.selector);
        vm.prank(admin);
        registry.setAttestationVerifier(IAttestationVerifier(address(0)));
    }

    function test_pause_blocksRegistrationsButNotRemovals() public {
        _setMeKeyDirect(enclaveA);
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveB));
        vm.prank(generator);
        registry.registerGeneratorKey(PUBLIC_MARKET, _pub(enclaveB));

        vm.prank(pauser);
        registry.pause();
        assertTrue(registry.paused());

        bytes memory pk = _pub(enclaveA);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKey(pk);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, "");
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, pk);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, NOW_MS, "");
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(generator);
        registry.registerGeneratorKey(PUBLIC_MARKET, pk);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, "", _enclaveSig(enclaveA, generator, TEE_MARKET)
        );

        // Revocations stay open during an emergency.
        vm.prank(keyAdmin);
        registry.removeMatchingEngineKey();
        vm.prank(creator);
        registry.removeIvsSigner(PUBLIC_MARKET, enclaveB.addr);
        vm.prank(generator);
        registry.removeGeneratorKey(PUBLIC_MARKET);

        vm.prank(pauser);
        registry.unpause();
        assertFalse(registry.paused());
        _setMeKeyDirect(enclaveA);
        assertEq(registry.matchingEngine(), enclaveA.addr);
    }

    function test_RevertWhen_pauseByNonPauser() public {
        bytes32 role = registry.PAUSER_ROLE();
        // Not even the (timelocked) admin: pausing is the guardian's job, so it can act at once.
        vm.expectRevert(_unauthorized(admin, role));
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(_unauthorized(keyAdmin, role));
        vm.prank(keyAdmin);
        registry.pause();
        vm.prank(pauser);
        registry.pause();
        vm.expectRevert(_unauthorized(stranger, role));
        vm.prank(stranger);
        registry.unpause();
    }

    // =========================================================================================================
    // EntityKeyRegistry: Matching Engine key
    // =========================================================================================================

    function test_setMatchingEngineKey_byKeyAdmin() public {
        bytes memory pk = _pub(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeySet(address(0), enclaveA.addr, "", pk, bytes32(0), 0);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKey(pk);
        assertEq(registry.matchingEngine(), enclaveA.addr);
        (address signer, bytes memory stored) = registry.matchingEngineKey();
        assertEq(signer, enclaveA.addr);
        assertEq(stored, pk);
        // Not attested, so no image is recorded.
        assertEq(registry.enclaveImageOf(enclaveA.addr), bytes32(0));

        _setMeKeyDirect(enclaveB);
        assertEq(registry.matchingEngine(), enclaveB.addr);
    }

    function test_setMatchingEngineKey_emitsReplacedKey() public {
        _setMeKeyDirect(enclaveA);
        bytes memory pkB = _pub(enclaveB);
        // Requesters whose input keys were wrapped to A's key learn from the event that they must re-create them.
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeySet(enclaveA.addr, enclaveB.addr, _pub(enclaveA), pkB, bytes32(0), 0);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKey(pkB);
    }

    function test_RevertWhen_setMatchingEngineKeyByNonKeyAdmin() public {
        vm.expectRevert(_unauthorized(stranger, KEY_ADMIN_ROLE));
        vm.prank(stranger);
        registry.setMatchingEngineKey(_pub(enclaveA));
    }

    function test_RevertWhen_setMatchingEngineKeyWhileImageConfigured() public {
        _setMeImage(ME_IMAGE);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.AttestationRequired.selector, ME_IMAGE));
        vm.prank(keyAdmin);
        registry.setMatchingEngineKey(_pub(enclaveA));
    }

    function test_RevertWhen_setMatchingEngineKeyWrongLength() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidPublicKeyLength.selector, uint256(33)));
        vm.prank(keyAdmin);
        registry.setMatchingEngineKey(new bytes(33));
    }

    function test_setMatchingEngineImage_setsAndClearsKey() public {
        _setMeKeyDirect(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineImageSet(ME_IMAGE);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeyRemoved(enclaveA.addr, _pub(enclaveA));
        vm.prank(admin);
        registry.setMatchingEngineImage(ME_IMAGE);
        assertEq(registry.matchingEngineImage(), ME_IMAGE);
        assertEq(registry.matchingEngine(), address(0));
        (, bytes memory stored) = registry.matchingEngineKey();
        assertEq(stored.length, 0);
    }

    function test_RevertWhen_setMatchingEngineImageByNonAdmin() public {
        vm.expectRevert(_unauthorized(keyAdmin, bytes32(0)));
        vm.prank(keyAdmin);
        registry.setMatchingEngineImage(ME_IMAGE);
    }

    function test_setMatchingEngineKeyWithAttestation_byKeyAdmin() public {
        _setMeImage(ME_IMAGE);
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, ME_IMAGE, NOW_MS);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.EnclaveImageRecorded(enclaveA.addr, ME_IMAGE);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeySet(address(0), enclaveA.addr, "", pk, ME_IMAGE, NOW_MS);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
        assertEq(registry.matchingEngine(), enclaveA.addr);
        assertEq(registry.matchingEngineAttestedAt(), NOW_MS);
        assertEq(registry.enclaveImageOf(enclaveA.addr), ME_IMAGE);

        // A newer attestation of another ME enclave replaces the key; the event names the replaced key.
        bytes memory pkB = _pub(enclaveB);
        bytes memory sigB = _attest(pkB, ME_IMAGE, NOW_MS + 1);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeySet(enclaveA.addr, enclaveB.addr, pk, pkB, ME_IMAGE, NOW_MS + 1);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pkB, NOW_MS + 1, sigB);
        assertEq(registry.matchingEngine(), enclaveB.addr);
        assertEq(registry.matchingEngineAttestedAt(), NOW_MS + 1);
        (, bytes memory stored) = registry.matchingEngineKey();
        assertEq(stored, pkB);
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationByNonKeyAdmin() public {
        _setMeImage(ME_IMAGE);
        _setMeKeyWithAttestation(enclaveA, NOW_MS);
        // Anyone can run the public ME image in an enclave and obtain a fresh attestation for its key: that must
        // not let them take over the ME key.
        bytes memory pk = _pub(enclaveB);
        bytes memory sig = _attest(pk, ME_IMAGE, NOW_MS + 1);
        vm.expectRevert(_unauthorized(stranger, KEY_ADMIN_ROLE));
        vm.prank(stranger);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS + 1, sig);
        // Nor the enclave key's owner itself.
        vm.expectRevert(_unauthorized(enclaveB.addr, KEY_ADMIN_ROLE));
        vm.prank(enclaveB.addr);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS + 1, sig);
        assertEq(registry.matchingEngine(), enclaveA.addr);
        assertEq(registry.matchingEngineAttestedAt(), NOW_MS);

        // The same attestation submitted by the key admin is accepted.
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS + 1, sig);
        assertEq(registry.matchingEngine(), enclaveB.addr);
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationWithoutImage() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, bytes32(0), NOW_MS);
        vm.expectRevert(IEntityKeyRegistry.NoEnclaveImage.selector);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationStale() public {
        _setMeImage(ME_IMAGE);
        bytes memory pkA = _pub(enclaveA);
        bytes memory sigA = _attest(pkA, ME_IMAGE, NOW_MS);
        bytes memory pkB = _pub(enclaveB);
        bytes memory sigB = _attest(pkB, ME_IMAGE, NOW_MS + 5);
        vm.startPrank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pkA, NOW_MS, sigA);
        registry.setMatchingEngineKeyWithAttestation(pkB, NOW_MS + 5, sigB);

        // Rolling back to A with its (still fresh) attestation fails.
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.StaleAttestation.selector, NOW_MS, NOW_MS + 5));
        registry.setMatchingEngineKeyWithAttestation(pkA, NOW_MS, sigA);
        // Replaying the current attestation fails too.
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.StaleAttestation.selector, NOW_MS + 5, NOW_MS + 5));
        registry.setMatchingEngineKeyWithAttestation(pkB, NOW_MS + 5, sigB);
        vm.stopPrank();
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationAfterRemoval() public {
        _setMeImage(ME_IMAGE);
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, ME_IMAGE, NOW_MS);
        vm.startPrank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
        registry.removeMatchingEngineKey();
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.StaleAttestation.selector, NOW_MS, NOW_MS));
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
        vm.stopPrank();
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationWrongImage() public {
        _setMeImage(ME_IMAGE);
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationExpired() public {
        _setMeImage(ME_IMAGE);
        bytes memory pk = _pub(enclaveA);
        uint64 ts = NOW_MS - MAX_AGE_MS - 1;
        bytes memory sig = _attest(pk, ME_IMAGE, ts);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.AttestationExpired.selector, ts, NOW_MS));
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, ts, sig);
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationUntrusted() public {
        _setMeImage(ME_IMAGE);
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _sign(rogueAttester, _attestationDigest(address(av), block.chainid, pk, ME_IMAGE, NOW_MS));
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.UntrustedSigner.selector, rogueAttester.addr));
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, NOW_MS, sig);
    }

    function test_RevertWhen_setMatchingEngineKeyWithAttestationWrongLength() public {
        _setMeImage(ME_IMAGE);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidPublicKeyLength.selector, uint256(65)));
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(new bytes(65), NOW_MS, "");
    }

    function test_removeMatchingEngineKey_removesAndEmits() public {
        _setMeKeyDirect(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeyRemoved(enclaveA.addr, _pub(enclaveA));
        vm.prank(keyAdmin);
        registry.removeMatchingEngineKey();
        assertEq(registry.matchingEngine(), address(0));
        (, bytes memory stored) = registry.matchingEngineKey();
        assertEq(stored.length, 0);
    }

    function test_removeMatchingEngineKey_emitsAttestedKey() public {
        _setMeImage(ME_IMAGE);
        _setMeKeyWithAttestation(enclaveA, NOW_MS);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeyRemoved(enclaveA.addr, _pub(enclaveA));
        vm.prank(keyAdmin);
        registry.removeMatchingEngineKey();
        // A key set after a removal has no previous key.
        bytes memory pkB = _pub(enclaveB);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.MatchingEngineKeySet(address(0), enclaveB.addr, "", pkB, ME_IMAGE, NOW_MS + 1);
        _setMeKeyWithAttestation(enclaveB, NOW_MS + 1);
    }

    function test_RevertWhen_removeMatchingEngineKeyByNonKeyAdmin() public {
        _setMeKeyDirect(enclaveA);
        vm.expectRevert(_unauthorized(stranger, KEY_ADMIN_ROLE));
        vm.prank(stranger);
        registry.removeMatchingEngineKey();
    }

    function test_RevertWhen_removeMatchingEngineKeyNoneSet() public {
        vm.expectRevert(IEntityKeyRegistry.NoMatchingEngineKey.selector);
        vm.prank(keyAdmin);
        registry.removeMatchingEngineKey();
    }

    // =========================================================================================================
    // EntityKeyRegistry: IVS signers
    // =========================================================================================================

    function test_addIvsSigner_byCreator() public {
        bytes memory pkA = _pub(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.IvsSignerAdded(PUBLIC_MARKET, enclaveA.addr, pkA, bytes32(0));
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, pkA);
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveB));
        assertTrue(registry.isIvsSigner(PUBLIC_MARKET, enclaveA.addr));
        assertTrue(registry.isIvsSigner(PUBLIC_MARKET, enclaveB.addr));
        assertFalse(registry.isIvsSigner(TEE_MARKET, enclaveA.addr));
        assertEq(
            uint8(registry.ivsSignerStatus(PUBLIC_MARKET, enclaveA.addr)),
            uint8(IEntityKeyRegistry.IvsSignerStatus.Active)
        );
    }

    function test_addIvsSigner_afterRemovalLiftsRevocation() public {
        vm.startPrank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
        registry.removeIvsSigner(PUBLIC_MARKET, enclaveA.addr);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
        vm.stopPrank();
        assertTrue(registry.isIvsSigner(PUBLIC_MARKET, enclaveA.addr));
    }

    function test_RevertWhen_addIvsSignerByNonCreator() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.NotMarketCreator.selector, PUBLIC_MARKET, stranger));
        vm.prank(stranger);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_addIvsSignerUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.MarketNotFound.selector, MISSING_MARKET));
        vm.prank(creator);
        registry.addIvsSigner(MISSING_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_addIvsSignerToEnclaveBoundMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.AttestationRequired.selector, IVS_IMAGE));
        vm.prank(creator);
        registry.addIvsSigner(TEE_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_addIvsSignerTwice() public {
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
        vm.expectRevert(
            abi.encodeWithSelector(IEntityKeyRegistry.IvsSignerAlreadyAdded.selector, PUBLIC_MARKET, enclaveA.addr)
        );
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_addIvsSignerWrongLength() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidPublicKeyLength.selector, uint256(20)));
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, abi.encodePacked(enclaveA.addr));
    }

    function test_addIvsSignerWithAttestation_byAnyone() public {
        bytes memory pkA = _pub(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.EnclaveImageRecorded(enclaveA.addr, IVS_IMAGE);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.IvsSignerAdded(TEE_MARKET, enclaveA.addr, pkA, IVS_IMAGE);
        vm.prank(stranger);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pkA, NOW_MS, _attest(pkA, IVS_IMAGE, NOW_MS));
        bytes memory pkB = _pub(enclaveB);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pkB, NOW_MS, _attest(pkB, IVS_IMAGE, NOW_MS));
        assertTrue(registry.isIvsSigner(TEE_MARKET, enclaveA.addr));
        assertTrue(registry.isIvsSigner(TEE_MARKET, enclaveB.addr));
        assertEq(registry.enclaveImageOf(enclaveA.addr), IVS_IMAGE);
    }

    function test_RevertWhen_addIvsSignerWithAttestationWithoutIvsImage() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, IVS_IMAGE, NOW_MS);
        vm.expectRevert(IEntityKeyRegistry.NoEnclaveImage.selector);
        registry.addIvsSignerWithAttestation(PUBLIC_MARKET, pk, NOW_MS, sig);
    }

    function test_RevertWhen_addIvsSignerWithAttestationWrongImage() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, NOW_MS, sig);
    }

    function test_RevertWhen_addIvsSignerWithAttestationFromFuture() public {
        bytes memory pk = _pub(enclaveA);
        uint64 ts = NOW_MS + SKEW_MS + 1;
        bytes memory sig = _attest(pk, IVS_IMAGE, ts);
        vm.expectRevert(abi.encodeWithSelector(IAttestationVerifier.AttestationFromFuture.selector, ts, NOW_MS));
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, ts, sig);
    }

    function test_RevertWhen_addIvsSignerWithAttestationUnknownMarket() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, IVS_IMAGE, NOW_MS);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.MarketNotFound.selector, MISSING_MARKET));
        registry.addIvsSignerWithAttestation(MISSING_MARKET, pk, NOW_MS, sig);
    }

    function test_RevertWhen_addIvsSignerWithAttestationTwice() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, IVS_IMAGE, NOW_MS);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, NOW_MS, sig);
        vm.expectRevert(
            abi.encodeWithSelector(IEntityKeyRegistry.IvsSignerAlreadyAdded.selector, TEE_MARKET, enclaveA.addr)
        );
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, NOW_MS, sig);
    }

    function test_RevertWhen_addIvsSignerWithAttestationRevoked() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, IVS_IMAGE, NOW_MS);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, NOW_MS, sig);
        vm.prank(creator);
        registry.removeIvsSigner(TEE_MARKET, enclaveA.addr);
        // Even a fresh attestation cannot re-admit a key the creator removed.
        bytes memory fresh = _attest(pk, IVS_IMAGE, NOW_MS + 1);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.IvsSignerRevoked.selector, TEE_MARKET, enclaveA.addr));
        registry.addIvsSignerWithAttestation(TEE_MARKET, pk, NOW_MS + 1, fresh);
    }

    function test_removeIvsSigner_byCreator() public {
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.IvsSignerRemoved(PUBLIC_MARKET, enclaveA.addr);
        vm.prank(creator);
        registry.removeIvsSigner(PUBLIC_MARKET, enclaveA.addr);
        assertFalse(registry.isIvsSigner(PUBLIC_MARKET, enclaveA.addr));
        assertEq(
            uint8(registry.ivsSignerStatus(PUBLIC_MARKET, enclaveA.addr)),
            uint8(IEntityKeyRegistry.IvsSignerStatus.Revoked)
        );
    }

    function test_RevertWhen_removeIvsSignerByNonCreator() public {
        vm.prank(creator);
        registry.addIvsSigner(PUBLIC_MARKET, _pub(enclaveA));
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.NotMarketCreator.selector, PUBLIC_MARKET, admin));
        vm.prank(admin);
        registry.removeIvsSigner(PUBLIC_MARKET, enclaveA.addr);
    }

    function test_RevertWhen_removeIvsSignerNotSigner() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.NotIvsSigner.selector, PUBLIC_MARKET, enclaveA.addr));
        vm.prank(creator);
        registry.removeIvsSigner(PUBLIC_MARKET, enclaveA.addr);
    }

    function test_RevertWhen_removeIvsSignerUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.MarketNotFound.selector, MISSING_MARKET));
        vm.prank(creator);
        registry.removeIvsSigner(MISSING_MARKET, enclaveA.addr);
    }

    // =========================================================================================================
    // EntityKeyRegistry: generator keys
    // =========================================================================================================

    function test_registerGeneratorKey_publicMarketWithoutAttestation() public {
        bytes memory pk = _pub(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.GeneratorKeyRegistered(PUBLIC_MARKET, generator, enclaveA.addr, pk, bytes32(0));
        vm.prank(generator);
        registry.registerGeneratorKey(PUBLIC_MARKET, pk);
        assertTrue(registry.hasGeneratorKey(PUBLIC_MARKET, generator));
        assertFalse(registry.hasGeneratorKey(PUBLIC_MARKET, stranger));
        assertFalse(registry.hasGeneratorKey(TEE_MARKET, generator));
        assertEq(registry.generatorKey(PUBLIC_MARKET, generator), pk);
        assertEq(registry.enclaveImageOf(enclaveA.addr), bytes32(0));

        // Rotation overwrites.
        vm.prank(generator);
        registry.registerGeneratorKey(PUBLIC_MARKET, _pub(enclaveB));
        assertEq(registry.generatorKey(PUBLIC_MARKET, generator), _pub(enclaveB));
    }

    function test_RevertWhen_registerGeneratorKeyConfidentialMarketWithoutAttestation() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.AttestationRequired.selector, PROVER_IMAGE));
        vm.prank(generator);
        registry.registerGeneratorKey(TEE_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_registerGeneratorKeyUnknownMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.MarketNotFound.selector, MISSING_MARKET));
        vm.prank(generator);
        registry.registerGeneratorKey(MISSING_MARKET, _pub(enclaveA));
    }

    function test_RevertWhen_registerGeneratorKeyWrongLength() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidPublicKeyLength.selector, uint256(65)));
        vm.prank(generator);
        registry.registerGeneratorKey(PUBLIC_MARKET, abi.encodePacked(bytes1(0x04), _pub(enclaveA)));
    }

    function test_registerGeneratorKeyWithAttestation_primaryAndExtraImage() public {
        bytes memory pkA = _pub(enclaveA);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.EnclaveImageRecorded(enclaveA.addr, PROVER_IMAGE);
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.GeneratorKeyRegistered(TEE_MARKET, generator, enclaveA.addr, pkA, PROVER_IMAGE);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET,
            pkA,
            PROVER_IMAGE,
            NOW_MS,
            _attest(pkA, PROVER_IMAGE, NOW_MS),
            _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
        assertTrue(registry.hasGeneratorKey(TEE_MARKET, generator));
        assertEq(registry.generatorKey(TEE_MARKET, generator), pkA);
        assertEq(registry.enclaveImageOf(enclaveA.addr), PROVER_IMAGE);

        bytes memory pkB = _pub(enclaveB);
        vm.prank(stranger);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET,
            pkB,
            EXTRA_IMAGE,
            NOW_MS,
            _attest(pkB, EXTRA_IMAGE, NOW_MS),
            _enclaveSig(enclaveB, stranger, TEE_MARKET)
        );
        assertTrue(registry.hasGeneratorKey(TEE_MARKET, stranger));
        assertEq(registry.enclaveImageOf(enclaveB.addr), EXTRA_IMAGE);
    }

    function test_registerGeneratorKeyWithAttestation_recordsImageOnce() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
        vm.recordLogs();
        vm.prank(stranger);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, stranger, TEE_MARKET)
        );
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], IEntityKeyRegistry.GeneratorKeyRegistered.selector);
    }

    function test_RevertWhen_registerGeneratorKeyWithAttestationImageNotAllowed() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, OTHER_IMAGE, NOW_MS);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.ImageNotAllowed.selector, TEE_MARKET, OTHER_IMAGE));
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, OTHER_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
        // A public market has no prover image to attest against.
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.ImageNotAllowed.selector, PUBLIC_MARKET, bytes32(0)));
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            PUBLIC_MARKET,
            pk,
            bytes32(0),
            NOW_MS,
            _attest(pk, bytes32(0), NOW_MS),
            _enclaveSig(enclaveA, generator, PUBLIC_MARKET)
        );
    }

    function test_RevertWhen_registerGeneratorKeyWithAttestationForOtherImage() public {
        // Attested for the IVS image but claimed as the prover image.
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, IVS_IMAGE, NOW_MS);
        vm.expectPartialRevert(IAttestationVerifier.UntrustedSigner.selector);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
    }

    function test_RevertWhen_registerGeneratorKeyWithAttestationExpired() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.warp(NOW_S + 3600);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationVerifier.AttestationExpired.selector, NOW_MS, NOW_MS + 3_600_000)
        );
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
    }

    function test_RevertWhen_registerGeneratorKeyWithAttestationUnknownMarket() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory sig = _attest(pk, PROVER_IMAGE, NOW_MS);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.MarketNotFound.selector, MISSING_MARKET));
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            MISSING_MARKET, pk, PROVER_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, generator, MISSING_MARKET)
        );
    }

    function test_RevertWhen_registerGeneratorKeyWithAttestationImageConflict() public {
        // The same key attested for two images means a leaked key; the first record stands.
        bytes memory pk = _pub(enclaveA);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET,
            pk,
            PROVER_IMAGE,
            NOW_MS,
            _attest(pk, PROVER_IMAGE, NOW_MS),
            _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
        bytes memory sig = _attest(pk, EXTRA_IMAGE, NOW_MS);
        vm.expectRevert(
            abi.encodeWithSelector(
                IEntityKeyRegistry.EnclaveImageConflict.selector, enclaveA.addr, PROVER_IMAGE, EXTRA_IMAGE
            )
        );
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, EXTRA_IMAGE, NOW_MS, sig, _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
    }

    function test_RevertWhen_registerGeneratorKeyWithAttestationMalformedSignature() public {
        vm.expectRevert(IAttestationVerifier.InvalidSignature.selector);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, _pub(enclaveA), PROVER_IMAGE, NOW_MS, "", _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
    }

    /// Attack: a generator without an enclave copies another generator's attested key and attestation from
    /// calldata to be matched in a confidential market. The enclave signed its registration for its own generator
    /// only, so the copy registers nothing.
    function test_RevertWhen_registerGeneratorKeyWithCopiedAttestation() public {
        bytes memory pk = _pub(enclaveA);
        bytes memory attestation = _attest(pk, PROVER_IMAGE, NOW_MS);
        bytes memory enclaveSig = _enclaveSig(enclaveA, generator, TEE_MARKET);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, attestation, enclaveSig);

        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidEnclaveSignature.selector, enclaveA.addr));
        vm.prank(stranger);
        registry.registerGeneratorKeyWithAttestation(TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, attestation, enclaveSig);
        // Nor with a signature of the copier's own key, or one made for another market.
        bytes memory ownSig = _enclaveSig(enclaveB, stranger, TEE_MARKET);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidEnclaveSignature.selector, enclaveA.addr));
        vm.prank(stranger);
        registry.registerGeneratorKeyWithAttestation(TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, attestation, ownSig);
        bytes memory otherMarket = _enclaveSig(enclaveA, stranger, PUBLIC_MARKET);
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidEnclaveSignature.selector, enclaveA.addr));
        vm.prank(stranger);
        registry.registerGeneratorKeyWithAttestation(TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, attestation, otherMarket);
        // A malformed enclave signature is the same error.
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.InvalidEnclaveSignature.selector, enclaveA.addr));
        vm.prank(stranger);
        registry.registerGeneratorKeyWithAttestation(TEE_MARKET, pk, PROVER_IMAGE, NOW_MS, attestation, "");
        assertFalse(registry.hasGeneratorKey(TEE_MARKET, stranger));
    }

    function test_generatorKeyRegistrationDigest_matchesIndependentEip712() public view {
        assertEq(registry.GENERATOR_KEY_REGISTRATION_TYPEHASH(), GENERATOR_KEY_REGISTRATION_TYPEHASH);
        bytes32 domain = _domain("Kalypso EntityKeyRegistry", block.chainid, address(registry));
        bytes32 structHash = keccak256(abi.encode(GENERATOR_KEY_REGISTRATION_TYPEHASH, generator, TEE_MARKET));
        assertEq(
            registry.generatorKeyRegistrationDigest(generator, TEE_MARKET),
            keccak256(abi.encodePacked("\x19\x01", domain, structHash))
        );
    }

    /// Attack: a TEE proof of one ask replayed for another ask with the same public inputs but another secret,
    /// or by another generator. The proof names the secret commitment and the generator, so neither verifies.
    function test_verifyAsk_bindsSecretCommitmentAndGenerator() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        _registerAttestedGenerator(enclaveA, PROVER_IMAGE);
        bytes32 secretA = keccak256("ciphertext of ask 1");
        bytes32 secretB = keccak256("ciphertext of ask 2");
        bytes memory proof = abi.encode(
            bytes("out"), _sign(enclaveA, _teeDigestFor(address(tee), block.chainid, "in", secretA, "out", generator))
        );
        assertTrue(tee.verifyAsk("in", proof, secretA, generator));
        assertFalse(tee.verifyAsk("in", proof, secretB, generator), "another ask's secret");
        assertFalse(tee.verifyAsk("in", proof, bytes32(0), generator), "an ask without secret");
        assertFalse(tee.verifyAsk("in", proof, secretA, stranger), "another generator");
        assertFalse(tee.verify("in", proof), "no ask named");
        assertFalse(tee.verifyAsk("in2", proof, secretA, generator), "other inputs");
    }

    function test_removeGeneratorKey_removesKeyKeepsImageRecord() public {
        bytes memory pk = _pub(enclaveA);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET,
            pk,
            PROVER_IMAGE,
            NOW_MS,
            _attest(pk, PROVER_IMAGE, NOW_MS),
            _enclaveSig(enclaveA, generator, TEE_MARKET)
        );
        vm.expectEmit(address(registry));
        emit IEntityKeyRegistry.GeneratorKeyRemoved(TEE_MARKET, generator);
        vm.prank(generator);
        registry.removeGeneratorKey(TEE_MARKET);
        assertFalse(registry.hasGeneratorKey(TEE_MARKET, generator));
        assertEq(registry.generatorKey(TEE_MARKET, generator).length, 0);
        assertEq(registry.enclaveImageOf(enclaveA.addr), PROVER_IMAGE);
    }

    function test_RevertWhen_removeGeneratorKeyNotRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IEntityKeyRegistry.GeneratorKeyNotFound.selector, TEE_MARKET, generator));
        vm.prank(generator);
        registry.removeGeneratorKey(TEE_MARKET);
    }

    // =========================================================================================================
    // TeeVerifier
    // =========================================================================================================

    function test_constructor_teeVerifierState() public {
        Vm.Wallet memory sample = vm.createWallet("sample");
        TeeVerifier tee = _deployTee(PROVER_IMAGE, sample, "sample input", "sample output");
        assertEq(address(tee.registry()), address(registry));
        assertEq(tee.imageId(), PROVER_IMAGE);
        assertEq(tee.sampleSigner(), sample.addr);
        assertEq(tee.TEE_PROOF_TYPEHASH(), TEE_PROOF_TYPEHASH);
        assertEq(tee.sampleInput(), "sample input");
        (bytes memory output,) = abi.decode(tee.sampleProof(), (bytes, bytes));
        assertEq(output, "sample output");
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) = tee.eip712Domain();
        assertEq(name, "Kalypso TeeVerifier");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(tee));
    }

    function test_checkSampleInputsAndProof_beforeAnyKeyIsRegistered() public {
        Vm.Wallet memory sample = vm.createWallet("sample");
        TeeVerifier tee = _deployTee(PROVER_IMAGE, sample, "sample input", "sample output");
        assertTrue(tee.checkSampleInputsAndProof());
        // The sample signer is not an attested enclave, so the same proof does not pass `verify`.
        assertFalse(tee.verify(tee.sampleInput(), tee.sampleProof()));
    }

    function test_RevertWhen_teeVerifierSampleProofInvalid() public {
        Vm.Wallet memory sample = vm.createWallet("sample");
        // Signed for the wrong verifying contract (the address the next deployment would not get).
        address wrong = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 1);
        bytes memory sig = _sign(sample, _teeDigest(wrong, block.chainid, "in", "out"));
        vm.expectRevert(ITeeVerifier.InvalidSampleProof.selector);
        new TeeVerifier(registry, PROVER_IMAGE, sample.addr, "in", abi.encode(bytes("out"), sig));
        // Signed by another key.
        address next = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        sig = _sign(enclaveA, _teeDigest(next, block.chainid, "in", "out"));
        vm.expectRevert(ITeeVerifier.InvalidSampleProof.selector);
        new TeeVerifier(registry, PROVER_IMAGE, sample.addr, "in", abi.encode(bytes("out"), sig));
    }

    function test_RevertWhen_teeVerifierConstructedWithZeroArguments() public {
        vm.expectRevert(ITeeVerifier.ZeroAddress.selector);
        new TeeVerifier(IEntityKeyRegistry(address(0)), PROVER_IMAGE, enclaveA.addr, "", "");
        vm.expectRevert(ITeeVerifier.ZeroAddress.selector);
        new TeeVerifier(registry, PROVER_IMAGE, address(0), "", "");
        vm.expectRevert(ITeeVerifier.ZeroImageId.selector);
        new TeeVerifier(registry, bytes32(0), enclaveA.addr, "", "");
    }

    function test_verify_acceptsAttestedEnclaveOfImage() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        _registerAttestedGenerator(enclaveA, PROVER_IMAGE);
        bytes memory inputs = hex"deadbeef";
        bytes memory proof = _teeProof(enclaveA, address(tee), inputs, "42");
        assertTrue(tee.verify(inputs, proof));

        // Still valid after the generator drops its key: the signature proves the image ran, not a membership.
        vm.prank(generator);
        registry.removeGeneratorKey(TEE_MARKET);
        assertTrue(tee.verify(inputs, proof));
    }

    function test_verify_rejectsEnclaveOfOtherImage() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        _registerAttestedGenerator(enclaveA, EXTRA_IMAGE);
        assertFalse(tee.verify("in", _teeProof(enclaveA, address(tee), "in", "out")));
        // An attested IVS enclave is not a prover either.
        bytes memory pkB = _pub(enclaveB);
        registry.addIvsSignerWithAttestation(TEE_MARKET, pkB, NOW_MS, _attest(pkB, IVS_IMAGE, NOW_MS));
        assertFalse(tee.verify("in", _teeProof(enclaveB, address(tee), "in", "out")));
    }

    function test_verify_rejectsUnattestedKey() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        // A key registered without attestation (public market) records no image.
        vm.prank(generator);
        registry.registerGeneratorKey(PUBLIC_MARKET, _pub(enclaveA));
        assertFalse(tee.verify("in", _teeProof(enclaveA, address(tee), "in", "out")));
    }

    function test_verify_rejectsTamperedInputsOrOutput() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        _registerAttestedGenerator(enclaveA, PROVER_IMAGE);
        bytes memory sig = _sign(enclaveA, _teeDigest(address(tee), block.chainid, "in", "out"));
        assertTrue(tee.verify("in", abi.encode(bytes("out"), sig)));
        assertFalse(tee.verify("in2", abi.encode(bytes("out"), sig)));
        assertFalse(tee.verify("in", abi.encode(bytes("out2"), sig)));
    }

    function test_verify_rejectsProofForAnotherVerifierOrChain() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        TeeVerifier other = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        _registerAttestedGenerator(enclaveA, PROVER_IMAGE);
        bytes memory proofForOther = _teeProof(enclaveA, address(other), "in", "out");
        assertTrue(other.verify("in", proofForOther));
        assertFalse(tee.verify("in", proofForOther));

        bytes memory proof = _teeProof(enclaveA, address(tee), "in", "out");
        vm.chainId(block.chainid + 1);
        assertFalse(tee.verify("in", proof));
    }

    function test_verify_rejectsMalformedSignature() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        _registerAttestedGenerator(enclaveA, PROVER_IMAGE);
        assertFalse(tee.verify("in", abi.encode(bytes("out"), new bytes(65))));
        assertFalse(tee.verify("in", abi.encode(bytes("out"), new bytes(64))));
        assertFalse(tee.verify("in", abi.encode(bytes("out"), "")));
    }

    function test_RevertWhen_verifyProofNotAbiEncoded() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        vm.expectRevert();
        tee.verify("in", hex"01");
    }

    function testFuzz_verifyInputs_acceptsAnyBytes(bytes calldata inputs) public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        assertTrue(tee.verifyInputs(inputs));
    }

    function test_proofDigest_matchesIndependentEip712() public {
        TeeVerifier tee = _deployTee(PROVER_IMAGE, vm.createWallet("sample"), "s", "s");
        assertEq(
            tee.proofDigest("in", bytes32(0), "out", address(0)), _teeDigest(address(tee), block.chainid, "in", "out")
        );
        assertEq(
            tee.proofDigest("in", keccak256("secret"), "out", generator),
            _teeDigestFor(address(tee), block.chainid, "in", keccak256("secret"), "out", generator)
        );
    }

    // =========================================================================================================
    // Helpers
    // =========================================================================================================

    function _deployAttestationVerifier() internal returns (AttestationVerifier) {
        AttestationVerifier impl = new AttestationVerifier();
        return AttestationVerifier(
            address(
                new ERC1967Proxy(
                    address(impl),
                    abi.encodeCall(AttestationVerifier.initialize, (admin, MAX_AGE_MS, _one(attester.addr)))
                )
            )
        );
    }

    function _deployRegistry(IMarketView marketView_) internal returns (EntityKeyRegistry) {
        EntityKeyRegistry impl = new EntityKeyRegistry();
        return EntityKeyRegistry(
            address(
                new ERC1967Proxy(address(impl), abi.encodeCall(EntityKeyRegistry.initialize, (admin, av, marketView_)))
            )
        );
    }

    /// @dev Deploys a TeeVerifier whose sample proof is signed by `sample` for the verifier's predicted address.
    function _deployTee(bytes32 imageId_, Vm.Wallet memory sample, bytes memory input, bytes memory output)
        internal
        returns (TeeVerifier tee)
    {
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        bytes memory proof = abi.encode(output, _sign(sample, _teeDigest(predicted, block.chainid, input, output)));
        tee = new TeeVerifier(registry, imageId_, sample.addr, input, proof);
        assertEq(address(tee), predicted);
    }

    function _registerAttestedGenerator(Vm.Wallet memory enclave, bytes32 imageId_) internal {
        bytes memory pk = _pub(enclave);
        vm.prank(generator);
        registry.registerGeneratorKeyWithAttestation(
            TEE_MARKET, pk, imageId_, NOW_MS, _attest(pk, imageId_, NOW_MS), _enclaveSig(enclave, generator, TEE_MARKET)
        );
    }

    function _setMeKeyDirect(Vm.Wallet memory w) internal {
        vm.prank(keyAdmin);
        registry.setMatchingEngineKey(_pub(w));
    }

    function _setMeKeyWithAttestation(Vm.Wallet memory w, uint64 timestampMs) internal {
        bytes memory pk = _pub(w);
        bytes memory sig = _attest(pk, ME_IMAGE, timestampMs);
        vm.prank(keyAdmin);
        registry.setMatchingEngineKeyWithAttestation(pk, timestampMs, sig);
    }

    function _setMeImage(bytes32 imageId_) internal {
        vm.prank(admin);
        registry.setMatchingEngineImage(imageId_);
    }

    /// @dev A trusted attestation for `av` on the current chain.
    function _attest(bytes memory pubkey, bytes32 imageId_, uint64 timestampMs) internal view returns (bytes memory) {
        return _sign(attester, _attestationDigest(address(av), block.chainid, pubkey, imageId_, timestampMs));
    }

    /// @dev The enclave's signature registering it as `as_`'s key for `marketId`, computed from the spec.
    function _enclaveSig(Vm.Wallet memory enclave, address as_, uint256 marketId) internal view returns (bytes memory) {
        bytes32 domain = _domain("Kalypso EntityKeyRegistry", block.chainid, address(registry));
        bytes32 structHash = keccak256(abi.encode(GENERATOR_KEY_REGISTRATION_TYPEHASH, as_, marketId));
        return _sign(enclave, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
    }

    function _teeProof(Vm.Wallet memory enclave, address verifier, bytes memory inputs, bytes memory output)
        internal
        view
        returns (bytes memory)
    {
        return abi.encode(output, _sign(enclave, _teeDigest(verifier, block.chainid, inputs, output)));
    }

    /// @dev EIP-712 digest computed from the spec, independently of the contracts.
    function _attestationDigest(
        address verifyingContract,
        uint256 chainId,
        bytes memory pubkey,
        bytes32 imageId_,
        uint64 timestampMs
    ) internal pure returns (bytes32) {
        bytes32 domain = _domain("Kalypso AttestationVerifier", chainId, verifyingContract);
        bytes32 structHash = keccak256(abi.encode(ATTESTATION_TYPEHASH, keccak256(pubkey), imageId_, timestampMs));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _teeDigest(address verifyingContract, uint256 chainId, bytes memory inputs, bytes memory output)
        internal
        pure
        returns (bytes32)
    {
        return _teeDigestFor(verifyingContract, chainId, inputs, bytes32(0), output, address(0));
    }

    function _teeDigestFor(
        address verifyingContract,
        uint256 chainId,
        bytes memory inputs,
        bytes32 secretCommitment,
        bytes memory output,
        address generator_
    ) internal pure returns (bytes32) {
        bytes32 domain = _domain("Kalypso TeeVerifier", chainId, verifyingContract);
        bytes32 structHash = keccak256(
            abi.encode(TEE_PROOF_TYPEHASH, keccak256(inputs), secretCommitment, keccak256(output), generator_)
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _domain(string memory name, uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return
            keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), chainId, verifyingContract));
    }

    function _sign(Vm.Wallet memory w, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(w.privateKey, digest);
        return abi.encodePacked(r, s, v);
    }

    function _pub(Vm.Wallet memory w) internal pure returns (bytes memory) {
        return abi.encodePacked(w.publicKeyX, w.publicKeyY);
    }

    function _one(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function _filled(uint256 length, bytes1 value) internal pure returns (bytes memory b) {
        b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = value;
        }
    }

    function _implementation(address proxy) internal view returns (address) {
        return address(uint160(uint256(vm.load(proxy, ERC1967Utils.IMPLEMENTATION_SLOT))));
    }

    function _unauthorized(address account, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role);
    }
}
