// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IProofVerifier} from "./IProofVerifier.sol";

/// @title AttestationVerifier
/// @notice Verifies zkray STARK receipts by attestation: a STARK is too large to check on-chain, so
///         registered attesters run zkray's STARK verifier off-chain and sign the EIP-712 statement
///         `Statement(imageId, journalDigest, receiptDigest)`. A proof is accepted when at least
///         `threshold` distinct registered attesters signed the statement.
/// @dev Seal layout: `abi.encode(bytes32 receiptDigest, bytes[] signatures)`, signatures ordered by
///      strictly increasing signer address (which rules out counting one attester twice).
contract AttestationVerifier is IProofVerifier, Ownable, EIP712 {
    bytes32 public constant STATEMENT_TYPEHASH =
        keccak256("Statement(bytes32 imageId,bytes32 journalDigest,bytes32 receiptDigest)");

    error MalformedSeal();
    error MalformedSignature(uint256 index);
    error UnknownAttester(address signer);
    error SignersNotSorted(uint256 index);
    error BelowThreshold(uint256 valid, uint256 threshold);
    error InvalidThreshold(uint256 threshold, uint256 attesters);
    error AttesterAlreadyRegistered(address attester);
    error AttesterNotRegistered(address attester);

    event AttesterAdded(address indexed attester);
    event AttesterRemoved(address indexed attester);
    event ThresholdChanged(uint256 threshold);

    mapping(address => bool) public isAttester;
    uint256 public attesterCount;
    uint256 public threshold;

    constructor(address initialOwner, address[] memory attesters, uint256 threshold_)
        Ownable(initialOwner)
        EIP712("zkray AttestationVerifier", "1")
    {
        for (uint256 i = 0; i < attesters.length; i++) {
            _addAttester(attesters[i]);
        }
        _setThreshold(threshold_);
    }

    function addAttester(address attester) external onlyOwner {
        _addAttester(attester);
    }

    function removeAttester(address attester) external onlyOwner {
        if (!isAttester[attester]) revert AttesterNotRegistered(attester);
        if (attesterCount - 1 < threshold) revert InvalidThreshold(threshold, attesterCount - 1);
        isAttester[attester] = false;
        attesterCount -= 1;
        emit AttesterRemoved(attester);
    }

    function setThreshold(uint256 threshold_) external onlyOwner {
        _setThreshold(threshold_);
    }

    /// @notice The EIP-712 digest the attesters sign for one statement.
    function statementDigest(bytes32 imageId, bytes32 journalDigest, bytes32 receiptDigest)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(STATEMENT_TYPEHASH, imageId, journalDigest, receiptDigest)));
    }

    /// @inheritdoc IProofVerifier
    function verify(bytes calldata seal, bytes32 imageId, bytes32 journalDigest) external view {
        // Smallest valid encoding: digest, offset, array length.
        if (seal.length < 96) revert MalformedSeal();
        (bytes32 receiptDigest, bytes[] memory signatures) = abi.decode(seal, (bytes32, bytes[]));
        bytes32 digest = statementDigest(imageId, journalDigest, receiptDigest);
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert MalformedSignature(i);
            // A signature over any other statement recovers to an unrelated address: report that first.
            if (!isAttester[signer]) revert UnknownAttester(signer);
            if (signer <= previous) revert SignersNotSorted(i);
            previous = signer;
        }
        if (signatures.length < threshold) revert BelowThreshold(signatures.length, threshold);
    }

    function _addAttester(address attester) private {
        if (attester == address(0) || isAttester[attester]) revert AttesterAlreadyRegistered(attester);
        isAttester[attester] = true;
        attesterCount += 1;
        emit AttesterAdded(attester);
    }

    function _setThreshold(uint256 threshold_) private {
        if (threshold_ == 0 || threshold_ > attesterCount) revert InvalidThreshold(threshold_, attesterCount);
        threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }
}
