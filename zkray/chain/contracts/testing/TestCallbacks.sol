// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IExecutionCallback} from "../IProofVerifier.sol";

/// @notice Test helper: records the last journal delivered by the engine.
contract RecordingCallback is IExecutionCallback {
    uint256 public lastRequestId;
    bytes32 public lastImageId;
    bytes public lastJournal;

    function onExecutionCompleted(uint256 requestId, bytes32 imageId, bytes calldata journal) external {
        lastRequestId = requestId;
        lastImageId = imageId;
        lastJournal = journal;
    }
}

/// @notice Test helper: a callback that always reverts, to reach the engine's CallbackFailed path.
contract RevertingCallback is IExecutionCallback {
    error CallbackRejected(uint256 requestId);

    function onExecutionCompleted(uint256 requestId, bytes32, bytes calldata) external pure {
        revert CallbackRejected(requestId);
    }
}

interface IEngineForTests {
    function requestExecution(bytes32, bytes32, string calldata, address, uint64) external payable returns (uint256);
    function cancelExecution(uint256) external;
    function withdraw() external;
}

/// @notice Test helper: a requester contract that can refuse ether, to reach the engine's credit and
///         TransferFailed paths.
contract RejectingRequester {
    IEngineForTests public immutable engine;
    bool public acceptEther;

    constructor(IEngineForTests engine_) {
        engine = engine_;
    }

    function request(bytes32 imageId) external payable returns (uint256) {
        return engine.requestExecution{value: msg.value}(imageId, bytes32(0), "", address(0), 0);
    }

    function cancel(uint256 requestId) external {
        engine.cancelExecution(requestId);
    }

    function withdraw() external {
        engine.withdraw();
    }

    function setAcceptEther(bool accept) external {
        acceptEther = accept;
    }

    receive() external payable {
        require(acceptEther, "ether refused");
    }
}

interface IEngineSubmit {
    function submitProof(uint256 requestId, bytes calldata seal, bytes calldata journal) external;
}

/// @notice Test helper: a callback that re-enters the engine. The re-entrancy guard rejects the inner
///         call, and the engine reports the callback's revert as CallbackFailed.
contract ReentrantCallback is IExecutionCallback {
    function onExecutionCompleted(uint256 requestId, bytes32, bytes calldata journal) external {
        IEngineSubmit(msg.sender).submitProof(requestId, "", journal);
    }
}
