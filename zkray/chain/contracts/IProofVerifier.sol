// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A verifier for one proof system, chosen per program by the ProgramRegistry.
/// @dev Verification reverts with the verifier's own custom error; it never returns a bare bool,
///      so a caller cannot forget to check the result.
interface IProofVerifier {
    /// @notice Reverts unless `seal` proves that program `imageId` produced a journal hashing to `journalDigest`.
    function verify(bytes calldata seal, bytes32 imageId, bytes32 journalDigest) external view;
}

/// @notice Implemented by contracts that want the journal of a completed execution delivered to them.
interface IExecutionCallback {
    function onExecutionCompleted(uint256 requestId, bytes32 imageId, bytes calldata journal) external;
}
