//! The SDK's error type and the decoding of contract reverts into the contracts' generated error enums.

use alloy::{
    primitives::{Address, B256, Bytes},
    providers::PendingTransactionError,
    sol_types::SolInterface,
    transports::TransportError,
};
use kalypso_contracts::{
    attestation_verifier::AttestationVerifier::AttestationVerifierErrors,
    generator_registry::GeneratorRegistry::GeneratorRegistryErrors,
    groth16_verifier::Groth16Verifier::Groth16VerifierErrors,
    key_registry::EntityKeyRegistry::EntityKeyRegistryErrors,
    marketplace::ProofMarketplace::ProofMarketplaceErrors,
    restaking_pool::RestakingPool::RestakingPoolErrors,
    symbiotic_middleware::KalypsoMiddleware::KalypsoMiddlewareErrors,
    tee_verifier::TeeVerifier::TeeVerifierErrors, test_token::TestToken::TestTokenErrors,
    verifier_factory::VerifierFactory::VerifierFactoryErrors,
};
use kalypso_primitives::{AskState, SkipReason};
use std::{fmt, path::PathBuf};

/// Result of the SDK's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to the protocol.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract rejected the call with one of its custom errors (decoded from the revert data). Match on
    /// `error` (see [`ContractError`]) rather than on the message.
    #[error("{contract} reverted: {error}")]
    Reverted {
        /// Name of the contract whose ABI decoded the error (`"ProofMarketplace"`, `"ERC20"`, ...).
        contract: &'static str,
        /// The decoded error (boxed: the generated error structs are large).
        error: Box<ContractError>,
    },
    /// A contract reverted with data none of the protocol's ABIs knows: a panic, a revert string or an
    /// empty revert.
    #[error("{contract} reverted{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    RevertedUnknown {
        /// The contract that was called.
        contract: &'static str,
        /// The panic or revert-string reason, when the data is one.
        reason: Option<String>,
        /// The raw revert data.
        data: Bytes,
    },
    /// The transaction was mined but failed, and replaying it did not reproduce a revert (e.g. out of gas).
    #[error("transaction {hash} failed in block {block}")]
    TxFailed {
        /// The transaction.
        hash: B256,
        /// Block it was mined in.
        block: u64,
    },
    /// A transaction followed by [`Kalypso::send_until_mined`](crate::Kalypso::send_until_mined) was not mined,
    /// but its account nonce was used by another transaction (one sent under the nonce and not recorded, or one
    /// from elsewhere). Check on-chain what happened before sending again.
    #[error("nonce {nonce} was used by a transaction other than the {sent} sent under it")]
    Replaced {
        /// The account nonce.
        nonce: u64,
        /// Transactions sent under it.
        sent: usize,
    },
    /// The transaction succeeded but its receipt lacks the event the call always emits.
    #[error("transaction {tx} emitted no {event} event")]
    MissingEvent {
        /// The event that was expected.
        event: &'static str,
        /// The transaction.
        tx: B256,
    },
    /// A deployment transaction succeeded but created no contract.
    #[error("deployment of {contract} in transaction {tx} created no contract")]
    NotDeployed {
        /// What was being deployed.
        contract: &'static str,
        /// The transaction.
        tx: B256,
    },
    /// The market does not exist (checked before sending anything).
    #[error("market {0} does not exist")]
    MarketNotFound(u64),
    /// The ask does not exist.
    #[error("ask {0} does not exist")]
    AskNotFound(u64),
    /// An amount that must be positive was zero (checked before sending anything).
    #[error("{0} must not be zero")]
    ZeroAmount(&'static str),
    /// A confidential ask's secret could not be sealed (a malformed Matching Engine key, a secret beyond
    /// AES-GCM's limit).
    #[error("sealing the secret: {0}")]
    Seal(#[from] kalypso_confidential::Error),
    /// No Matching Engine key is registered: nobody could unwrap a confidential ask's secret key.
    #[error("no Matching Engine key is registered: confidential asks cannot be sealed")]
    NoMatchingEngineKey,
    /// An attested key was offered for a role whose keys need no enclave image (checked before sending): set
    /// it directly (`set_matching_engine_key`, `add_ivs_signer`).
    #[error("{role} has no enclave image: its key is set without an attestation")]
    NoEnclaveImage {
        /// Whose key (`the Matching Engine`, `the IVS of market 3`).
        role: String,
    },
    /// An attestation names another enclave image than the role's (checked before sending: on-chain its
    /// signature would not verify for the role's image and the call would revert with `UntrustedSigner`).
    #[error("the attestation is for image {attested}, but {role} must run image {required}")]
    WrongEnclaveImage {
        /// Whose key (`the Matching Engine`, `the IVS of market 3`).
        role: String,
        /// The image the attestation names.
        attested: B256,
        /// The image the role must run.
        required: B256,
    },
    /// An argument is malformed (checked before sending anything).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The provider's chain is not the deployment's.
    #[error("the provider is on chain {actual}, the deployment on chain {expected}")]
    ChainMismatch {
        /// Chain id of the deployment.
        expected: u64,
        /// Chain id the provider reports.
        actual: u64,
    },
    /// A deployment address holds no contract code.
    #[error("no contract code at {address} ({contract})")]
    NoCode {
        /// Which contract of the deployment.
        contract: &'static str,
        /// Its address.
        address: Address,
    },
    /// Chain data (a log, a view's result) does not have the expected shape.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A contract call failed for a reason other than a revert (RPC, ABI, ...).
    #[error(transparent)]
    Contract(#[from] alloy::contract::Error),
    /// An RPC request failed.
    #[error(transparent)]
    Rpc(#[from] TransportError),
    /// Waiting for a transaction's receipt failed.
    #[error(transparent)]
    PendingTx(#[from] PendingTransactionError),
    /// A signer failed to sign a message.
    #[error("signing failed: {0}")]
    Signer(#[from] alloy::signers::Error),
    /// Reading or writing a deployment file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A deployment file is not valid JSON of the expected shape.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl Error {
    /// The decoded custom error, when a contract reverted with one.
    pub fn contract_error(&self) -> Option<&ContractError> {
        match self {
            Self::Reverted { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The marketplace's custom error, when the marketplace reverted with one.
    pub fn marketplace_error(&self) -> Option<&ProofMarketplaceErrors> {
        match self.contract_error()? {
            ContractError::ProofMarketplace(e) => Some(e),
            _ => None,
        }
    }

    /// The generator registry's custom error, when the registry reverted with one.
    pub fn registry_error(&self) -> Option<&GeneratorRegistryErrors> {
        match self.contract_error()? {
            ContractError::GeneratorRegistry(e) => Some(e),
            _ => None,
        }
    }

    /// A restaking pool's custom error, when a pool reverted with one.
    pub fn restaking_pool_error(&self) -> Option<&RestakingPoolErrors> {
        match self.contract_error()? {
            ContractError::RestakingPool(e) => Some(e),
            _ => None,
        }
    }

    /// The L1 Symbiotic middleware's custom error, when it reverted with one.
    pub fn middleware_error(&self) -> Option<&KalypsoMiddlewareErrors> {
        match self.contract_error()? {
            ContractError::SymbioticMiddleware(e) => Some(e),
            _ => None,
        }
    }

    /// The key registry's custom error, when the key registry reverted with one.
    pub fn key_registry_error(&self) -> Option<&EntityKeyRegistryErrors> {
        match self.contract_error()? {
            ContractError::EntityKeyRegistry(e) => Some(e),
            _ => None,
        }
    }
}

/// The protocol contract a call went to: its ABI is tried first when decoding a revert (several contracts
/// share error signatures such as `MarketNotFound(uint256)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Marketplace,
    Registry,
    KeyRegistry,
    AttestationVerifier,
    Groth16Verifier,
    TeeVerifier,
    VerifierFactory,
    RestakingPool,
    SymbioticMiddleware,
    Token,
    /// A contract without custom errors of ours (a proxy, a test token constructor).
    Other(&'static str),
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Marketplace => "ProofMarketplace",
            Self::Registry => "GeneratorRegistry",
            Self::KeyRegistry => "EntityKeyRegistry",
            Self::AttestationVerifier => "AttestationVerifier",
            Self::Groth16Verifier => "Groth16Verifier",
            Self::TeeVerifier => "TeeVerifier",
            Self::VerifierFactory => "VerifierFactory",
            Self::RestakingPool => "RestakingPool",
            Self::SymbioticMiddleware => "KalypsoMiddleware",
            Self::Token => "ERC20",
            Self::Other(name) => name,
        }
    }
}

/// A custom error of one of the protocol's contracts (or of an ERC-20 token they call), as generated from the
/// contracts' ABIs. `Display` and `Debug` print it like Solidity with argument names, enums by name:
/// `AskNotAssignable { askId: 3, generator: 0x…, reason: PriceAboveReward }`.
#[derive(Clone, PartialEq, Eq)]
pub enum ContractError {
    /// From the `ProofMarketplace`.
    ProofMarketplace(ProofMarketplaceErrors),
    /// From the `GeneratorRegistry` (and its native staking pool).
    GeneratorRegistry(GeneratorRegistryErrors),
    /// From the `EntityKeyRegistry`.
    EntityKeyRegistry(EntityKeyRegistryErrors),
    /// From the `AttestationVerifier` (bubbles up through the key registry).
    AttestationVerifier(AttestationVerifierErrors),
    /// From a `Groth16Verifier` (its constructor checks the verifying key).
    Groth16Verifier(Groth16VerifierErrors),
    /// From a `TeeVerifier` (its constructor checks the sample proof's signer).
    TeeVerifier(TeeVerifierErrors),
    /// From the `VerifierFactory` (a sample proof that does not verify).
    VerifierFactory(VerifierFactoryErrors),
    /// From a `RestakingPool` (snapshots, committee, per-task locks).
    RestakingPool(RestakingPoolErrors),
    /// From the L1 Symbiotic network middleware (`KalypsoMiddleware`: slash requests, registrations).
    SymbioticMiddleware(KalypsoMiddlewareErrors),
    /// An OpenZeppelin ERC-20 error of the payment or staking token (balance, allowance).
    Erc20(TestTokenErrors),
}

impl ContractError {
    /// Name of the contract the error belongs to.
    pub fn contract(&self) -> &'static str {
        match self {
            Self::ProofMarketplace(_) => Target::Marketplace.name(),
            Self::GeneratorRegistry(_) => Target::Registry.name(),
            Self::EntityKeyRegistry(_) => Target::KeyRegistry.name(),
            Self::AttestationVerifier(_) => Target::AttestationVerifier.name(),
            Self::Groth16Verifier(_) => Target::Groth16Verifier.name(),
            Self::TeeVerifier(_) => Target::TeeVerifier.name(),
            Self::VerifierFactory(_) => Target::VerifierFactory.name(),
            Self::RestakingPool(_) => Target::RestakingPool.name(),
            Self::SymbioticMiddleware(_) => Target::SymbioticMiddleware.name(),
            Self::Erc20(_) => Target::Token.name(),
        }
    }

    /// Which rule the market's verifier says malformed inputs break (the `reason` of an `InvalidInputs`
    /// revert, decoded as a Groth16 verifier error), when it says one.
    pub fn invalid_inputs_reason(&self) -> Option<Groth16VerifierErrors> {
        match self {
            Self::ProofMarketplace(ProofMarketplaceErrors::InvalidInputs(e)) => {
                Groth16VerifierErrors::abi_decode(&e.reason).ok()
            }
            _ => None,
        }
    }

    /// The skip reason of an `AskNotAssignable` revert.
    pub fn skip_reason(&self) -> Option<SkipReason> {
        match self {
            Self::ProofMarketplace(ProofMarketplaceErrors::AskNotAssignable(e)) => {
                SkipReason::try_from(e.reason).ok()
            }
            _ => None,
        }
    }

    /// Decodes revert data, trying the called contract's ABI first, then the contracts it calls, then the rest.
    pub(crate) fn decode(data: &[u8], called: Target) -> Option<Self> {
        use Target::*;
        let order: &[Target] = match called {
            Marketplace => &[Marketplace, Token, Registry, KeyRegistry],
            Registry => &[Registry, Token, Marketplace],
            KeyRegistry => &[KeyRegistry, AttestationVerifier, Marketplace],
            AttestationVerifier => &[AttestationVerifier],
            Groth16Verifier => &[Groth16Verifier],
            TeeVerifier => &[TeeVerifier],
            // The factory's calls bubble up the new verifier's constructor errors.
            VerifierFactory => &[VerifierFactory, Groth16Verifier, TeeVerifier],
            RestakingPool => &[RestakingPool],
            SymbioticMiddleware => &[SymbioticMiddleware],
            Token => &[Token],
            Other(_) => &[
                Marketplace,
                Registry,
                KeyRegistry,
                AttestationVerifier,
                Groth16Verifier,
                TeeVerifier,
                VerifierFactory,
                RestakingPool,
                SymbioticMiddleware,
                Token,
            ],
        };
        order.iter().find_map(|target| match target {
            Marketplace => ProofMarketplaceErrors::abi_decode(data)
                .ok()
                .map(Self::ProofMarketplace),
            Registry => GeneratorRegistryErrors::abi_decode(data)
                .ok()
                .map(Self::GeneratorRegistry),
            KeyRegistry => EntityKeyRegistryErrors::abi_decode(data)
                .ok()
                .map(Self::EntityKeyRegistry),
            AttestationVerifier => AttestationVerifierErrors::abi_decode(data)
                .ok()
                .map(Self::AttestationVerifier),
            Groth16Verifier => Groth16VerifierErrors::abi_decode(data)
                .ok()
                .map(Self::Groth16Verifier),
            TeeVerifier => TeeVerifierErrors::abi_decode(data)
                .ok()
                .map(Self::TeeVerifier),
            VerifierFactory => VerifierFactoryErrors::abi_decode(data)
                .ok()
                .map(Self::VerifierFactory),
            RestakingPool => RestakingPoolErrors::abi_decode(data)
                .ok()
                .map(Self::RestakingPool),
            SymbioticMiddleware => KalypsoMiddlewareErrors::abi_decode(data)
                .ok()
                .map(Self::SymbioticMiddleware),
            Token => TestTokenErrors::abi_decode(data).ok().map(Self::Erc20),
            Other(_) => None,
        })
    }
}

/// `Name(Name { a: 1 })` (derived `Debug` of a generated error enum) → `Name { a: 1 }`.
pub(crate) fn strip_variant(debug: String) -> String {
    match debug.find('(') {
        Some(open) if debug.ends_with(')') => debug[open + 1..debug.len() - 1].to_owned(),
        _ => debug,
    }
}

/// An ABI enum value by its Rust name (`PriceAboveReward`), or the raw number if out of range.
fn enum_name<T: TryFrom<u8> + fmt::Debug>(value: u8) -> String {
    T::try_from(value).map_or_else(|_| value.to_string(), |v| format!("{v:?}"))
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ProofMarketplace(ProofMarketplaceErrors::AskNotAssignable(e)) => write!(
                f,
                "AskNotAssignable {{ askId: {}, generator: {}, reason: {} }}",
                e.askId,
                e.generator,
                enum_name::<SkipReason>(e.reason)
            ),
            Self::ProofMarketplace(ProofMarketplaceErrors::InvalidAskState(e)) => write!(
                f,
                "InvalidAskState {{ askId: {}, state: {} }}",
                e.askId,
                enum_name::<AskState>(e.state)
            ),
            Self::ProofMarketplace(ProofMarketplaceErrors::InvalidInputs(e)) => {
                // Show which rule failed rather than the verifier's raw revert data.
                let reason = match Groth16VerifierErrors::abi_decode(&e.reason) {
                    Ok(reason) => strip_variant(format!("{reason:?}")),
                    Err(_) if e.reason.is_empty() => "none given".to_owned(),
                    Err(_) => e.reason.to_string(),
                };
                write!(
                    f,
                    "InvalidInputs {{ marketId: {}, reason: {reason} }}",
                    e.marketId
                )
            }
            Self::ProofMarketplace(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::GeneratorRegistry(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::EntityKeyRegistry(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::AttestationVerifier(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::Groth16Verifier(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::TeeVerifier(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::VerifierFactory(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::RestakingPool(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::SymbioticMiddleware(e) => f.write_str(&strip_variant(format!("{e:?}"))),
            Self::Erc20(e) => f.write_str(&strip_variant(format!("{e:?}"))),
        }
    }
}

impl fmt::Debug for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The error for revert data returned by `called`.
pub(crate) fn from_revert_data(data: Bytes, called: Target) -> Error {
    match ContractError::decode(&data, called) {
        Some(error) => Error::Reverted {
            contract: error.contract(),
            error: Box::new(error),
        },
        None => Error::RevertedUnknown {
            contract: called.name(),
            reason: alloy::sol_types::decode_revert_reason(&data),
            data,
        },
    }
}

/// Maps a contract-layer error, decoding revert data when there is some.
pub(crate) fn from_contract(err: alloy::contract::Error, called: Target) -> Error {
    match err.as_revert_data() {
        Some(data) => from_revert_data(data, called),
        None => Error::Contract(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{U256, address},
        sol_types::SolError,
    };
    use kalypso_contracts::marketplace::ProofMarketplace;

    #[test]
    fn reverts_decode_with_names_and_enum_names() {
        let generator = address!("0x00000000000000000000000000000000000000aa");
        let data = ProofMarketplace::AskNotAssignable {
            askId: U256::from(3),
            generator,
            reason: SkipReason::PriceAboveReward as u8,
        }
        .abi_encode();
        let err = from_revert_data(data.into(), Target::Marketplace);
        let shown = format!("{err:?}");
        assert!(shown.contains("contract: \"ProofMarketplace\""), "{shown}");
        assert!(
            shown.contains("AskNotAssignable { askId: 3, generator: 0x00000000000000000000000000000000000000AA, reason: PriceAboveReward }"),
            "{shown}"
        );
        assert_eq!(
            err.contract_error().and_then(ContractError::skip_reason),
            Some(SkipReason::PriceAboveReward)
        );

        let data = ProofMarketplace::InvalidProof {
            askId: U256::from(9),
        }
        .abi_encode();
        let err = from_revert_data(data.into(), Target::Marketplace);
        assert_eq!(
            err.to_string(),
            "ProofMarketplace reverted: InvalidProof { askId: 9 }"
        );
    }

    #[test]
    fn called_contract_wins_shared_signatures_and_unknown_data_is_kept() {
        // `MarketNotFound(uint256)` exists in the marketplace, the registry and the key registry.
        let data = ProofMarketplace::MarketNotFound {
            marketId: U256::from(7),
        }
        .abi_encode();
        let err = from_revert_data(data.clone().into(), Target::Registry);
        assert!(matches!(
            err.registry_error(),
            Some(GeneratorRegistryErrors::MarketNotFound(_))
        ));
        let err = from_revert_data(data.into(), Target::Marketplace);
        assert!(matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::MarketNotFound(_))
        ));

        let err = from_revert_data(Bytes::from_static(&[1, 2, 3, 4]), Target::Marketplace);
        assert!(matches!(err, Error::RevertedUnknown { .. }), "{err:?}");
    }

    #[test]
    fn invalid_inputs_show_the_rule_the_verifier_names() {
        use kalypso_contracts::groth16_verifier::Groth16Verifier;
        let reason = Groth16Verifier::InputsTooShort {
            minLength: U256::from(32),
            length: U256::from(2),
        }
        .abi_encode();
        let data = ProofMarketplace::InvalidInputs {
            marketId: U256::from(1),
            reason: reason.into(),
        }
        .abi_encode();
        let err = from_revert_data(data.into(), Target::Marketplace);
        assert_eq!(
            err.to_string(),
            "ProofMarketplace reverted: InvalidInputs { marketId: 1, reason: InputsTooShort { minLength: 32, length: 2 } }"
        );
        assert!(matches!(
            err.contract_error()
                .and_then(ContractError::invalid_inputs_reason),
            Some(Groth16VerifierErrors::InputsTooShort(_))
        ));
    }
}
