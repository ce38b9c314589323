// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IExecutionCallback, IProofVerifier} from "./IProofVerifier.sol";
import {ProgramRegistry} from "./ProgramRegistry.sol";

/// @title ExecutionEngine
/// @notice A market for verifiable computation. A requester posts a job (program image id, input digest and
///         where to fetch the input) with a tip; a prover claims it for a 10-minute window, proves it and
///         submits the proof. The payout decays linearly from the tip to half of it over 30 minutes after the
///         request, less a protocol fee; the undecayed remainder goes back to the requester.
/// @dev Payments that a recipient refuses are credited to it and can be pulled with `withdraw`, so a
///      requester contract that rejects ether cannot block a prover's payout.
contract ExecutionEngine is Ownable, Pausable, ReentrancyGuard {
    enum Status {
        None,
        Pending,
        Claimed,
        Completed,
        Cancelled
    }

    struct Request {
        address requester;
        bytes32 imageId;
        bytes32 inputDigest;
        string inputUrl;
        uint8 inputType;
        address callback;
        uint256 tip;
        uint64 createdAt;
        uint64 expiresAt;
        address claimant;
        uint64 claimDeadline;
        Status status;
    }

    struct ProverStats {
        uint64 claims;
        uint64 completions;
        uint64 expiredClaims;
        uint256 earned;
    }

    uint256 public constant MIN_TIP = 0.0001 ether;
    uint64 public constant DEFAULT_EXPIRATION = 1 hours;
    uint64 public constant MIN_EXPIRATION = 1 minutes;
    uint64 public constant MAX_EXPIRATION = 30 days;
    uint64 public constant CLAIM_WINDOW = 10 minutes;
    uint64 public constant DECAY_PERIOD = 30 minutes;
    uint16 public constant MAX_FEE_BPS = 1000;
    uint32 public constant CALLBACK_GAS = 500_000;

    error TipTooLow(uint256 tip, uint256 minimum);
    error InvalidExpiration(uint64 expirationSeconds);
    error ProgramNotActive(bytes32 imageId);
    error InvalidCallback(address callback);
    error RequestNotFound(uint256 requestId);
    error RequestExpired(uint256 requestId, uint64 expiresAt);
    error AlreadyClaimed(uint256 requestId, address claimant, uint64 claimDeadline);
    error InvalidStatus(uint256 requestId, Status status);
    error NotClaimant(uint256 requestId, address claimant);
    error ClaimDeadlinePassed(uint256 requestId, uint64 claimDeadline);
    error ClaimNotExpired(uint256 requestId, uint64 claimDeadline);
    error NotRequester(uint256 requestId, address requester);
    error FeeTooHigh(uint16 feeBps, uint16 maximum);
    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);

    event ExecutionRequested(
        uint256 indexed requestId,
        address indexed requester,
        bytes32 indexed imageId,
        bytes32 inputDigest,
        string inputUrl,
        uint8 inputType,
        uint256 tip,
        uint64 expiresAt
    );
    event ExecutionClaimed(uint256 indexed requestId, address indexed prover, uint64 claimDeadline);
    event ExecutionCompleted(uint256 indexed requestId, address indexed prover, bytes32 journalDigest, uint256 payout);
    event ExecutionCancelled(uint256 indexed requestId, address indexed requester, uint256 refund);
    event ClaimExpired(uint256 indexed requestId, address indexed prover);
    event CallbackFailed(uint256 indexed requestId, address indexed callback, bytes reason);
    event BadProofReported(uint256 indexed requestId, address indexed prover, address indexed reporter);
    event ProtocolFeeChanged(uint16 feeBps);
    event Credited(address indexed account, uint256 amount);

    ProgramRegistry public immutable registry;
    uint16 public protocolFeeBps = 250;
    uint256 public accruedFees;
    uint256 public requestCount;

    mapping(uint256 => Request) private _requests;
    mapping(address => ProverStats) private _stats;
    mapping(address => uint256) public credits;
    // Pending request ids, kept as a swap-and-pop set so getPendingRequests pages without scanning history.
    uint256[] private _pending;
    mapping(uint256 => uint256) private _pendingIndex; // id => index + 1

    constructor(ProgramRegistry registry_, address initialOwner) Ownable(initialOwner) {
        registry = registry_;
    }

    // ---- requester ----

    function requestExecution(
        bytes32 imageId,
        bytes32 inputDigest,
        string calldata inputUrl,
        address callback,
        uint64 expirationSeconds
    ) external payable returns (uint256) {
        return _request(imageId, inputDigest, inputUrl, callback, expirationSeconds, 0);
    }

    /// @param inputType 0: `inputUrl` is a URL (ipfs://, https://); 1: it is the input itself (a data: URI).
    function requestExecution(
        bytes32 imageId,
        bytes32 inputDigest,
        string calldata inputUrl,
        address callback,
        uint64 expirationSeconds,
        uint8 inputType
    ) external payable returns (uint256) {
        return _request(imageId, inputDigest, inputUrl, callback, expirationSeconds, inputType);
    }

    /// @notice Cancels an unclaimed (or abandoned) request and refunds the whole tip.
    function cancelExecution(uint256 requestId) external nonReentrant {
        Request storage r = _get(requestId);
        if (msg.sender != r.requester) revert NotRequester(requestId, r.requester);
        if (r.status == Status.Claimed) {
            if (block.timestamp <= r.claimDeadline) revert AlreadyClaimed(requestId, r.claimant, r.claimDeadline);
        } else if (r.status != Status.Pending) {
            revert InvalidStatus(requestId, r.status);
        }
        uint256 refund = r.tip;
        r.status = Status.Cancelled;
        _removePending(requestId);
        emit ExecutionCancelled(requestId, r.requester, refund);
        _pay(r.requester, refund);
    }

    // ---- prover ----

    /// @notice Claims a request for CLAIM_WINDOW. A claim past its deadline can be taken over.
    function claimExecution(uint256 requestId) external whenNotPaused nonReentrant {
        Request storage r = _get(requestId);
        if (block.timestamp >= r.expiresAt) revert RequestExpired(requestId, r.expiresAt);
        if (r.status == Status.Claimed) {
            if (block.timestamp <= r.claimDeadline) revert AlreadyClaimed(requestId, r.claimant, r.claimDeadline);
            _stats[r.claimant].expiredClaims += 1;
            emit ClaimExpired(requestId, r.claimant);
        } else if (r.status != Status.Pending) {
            revert InvalidStatus(requestId, r.status);
        } else {
            _removePending(requestId);
        }
        r.status = Status.Claimed;
        r.claimant = msg.sender;
        r.claimDeadline = uint64(block.timestamp) + CLAIM_WINDOW;
        _stats[msg.sender].claims += 1;
        emit ExecutionClaimed(requestId, msg.sender, r.claimDeadline);
    }

    /// @notice Submits the proof for a claimed request; the program's verifier reverts if it is not valid.
    function submitProof(uint256 requestId, bytes calldata seal, bytes calldata journal) external nonReentrant {
        Request storage r = _get(requestId);
        if (r.status != Status.Claimed) revert InvalidStatus(requestId, r.status);
        if (msg.sender != r.claimant) revert NotClaimant(requestId, r.claimant);
        if (block.timestamp > r.claimDeadline) revert ClaimDeadlinePassed(requestId, r.claimDeadline);

        bytes32 journalDigest = sha256(journal);
        IProofVerifier(registry.verifierOf(r.imageId)).verify(seal, r.imageId, journalDigest);

        uint256 payout = _currentTip(r);
        uint256 fee = (payout * protocolFeeBps) / 10_000;
        uint256 refund = r.tip - payout;
        r.status = Status.Completed;
        accruedFees += fee;
        ProverStats storage s = _stats[msg.sender];
        s.completions += 1;
        s.earned += payout - fee;
        emit ExecutionCompleted(requestId, msg.sender, journalDigest, payout);

        _pay(msg.sender, payout - fee);
        if (refund > 0) _pay(r.requester, refund);
        if (r.callback != address(0)) {
            try IExecutionCallback(r.callback).onExecutionCompleted{gas: CALLBACK_GAS}(requestId, r.imageId, journal) {}
            catch (bytes memory reason) {
                emit CallbackFailed(requestId, r.callback, reason);
            }
        }
    }

    /// @notice Anyone may reset a request whose claimant missed its deadline, so that it can be proven again.
    function reportBadProof(uint256 requestId) external nonReentrant {
        Request storage r = _get(requestId);
        if (r.status != Status.Claimed) revert InvalidStatus(requestId, r.status);
        if (block.timestamp <= r.claimDeadline) revert ClaimNotExpired(requestId, r.claimDeadline);
        address prover = r.claimant;
        _stats[prover].expiredClaims += 1;
        r.status = Status.Pending;
        r.claimant = address(0);
        r.claimDeadline = 0;
        _addPending(requestId);
        emit BadProofReported(requestId, prover, msg.sender);
    }

    /// @notice Pulls payments that could not be pushed (the recipient rejected ether).
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    // ---- owner ----

    function setProtocolFee(uint16 feeBps) external onlyOwner {
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        protocolFeeBps = feeBps;
        emit ProtocolFeeChanged(feeBps);
    }

    function withdrawFees(address payable to) external onlyOwner nonReentrant {
        uint256 amount = accruedFees;
        if (amount == 0) revert NothingToWithdraw(to);
        accruedFees = 0;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    // ---- views ----

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _get(requestId);
    }

    /// @notice What a proof submitted now would pay before the protocol fee.
    function getCurrentTip(uint256 requestId) external view returns (uint256) {
        return _currentTip(_get(requestId));
    }

    /// @notice A page of the ids of unclaimed requests (some may have expired: check `expiresAt`).
    function getPendingRequests(uint256 offset, uint256 limit) external view returns (uint256[] memory ids) {
        uint256 total = _pending.length;
        if (offset >= total) return new uint256[](0);
        uint256 n = total - offset < limit ? total - offset : limit;
        ids = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            ids[i] = _pending[offset + i];
        }
    }

    function pendingCount() external view returns (uint256) {
        return _pending.length;
    }

    function getProverStats(address prover) external view returns (ProverStats memory) {
        return _stats[prover];
    }

    // ---- internals ----

    function _request(
        bytes32 imageId,
        bytes32 inputDigest,
        string calldata inputUrl,
        address callback,
        uint64 expirationSeconds,
        uint8 inputType
    ) private whenNotPaused returns (uint256 requestId) {
        if (msg.value < MIN_TIP) revert TipTooLow(msg.value, MIN_TIP);
        uint64 expiration = expirationSeconds == 0 ? DEFAULT_EXPIRATION : expirationSeconds;
        if (expiration < MIN_EXPIRATION || expiration > MAX_EXPIRATION) revert InvalidExpiration(expirationSeconds);
        if (!registry.isActive(imageId)) revert ProgramNotActive(imageId);
        // A callback without code would make the try/catch in submitProof revert outright.
        if (callback != address(0) && callback.code.length == 0) revert InvalidCallback(callback);

        requestId = ++requestCount;
        uint64 expiresAt = uint64(block.timestamp) + expiration;
        _requests[requestId] = Request({
            requester: msg.sender,
            imageId: imageId,
            inputDigest: inputDigest,
            inputUrl: inputUrl,
            inputType: inputType,
            callback: callback,
            tip: msg.value,
            createdAt: uint64(block.timestamp),
            expiresAt: expiresAt,
            claimant: address(0),
            claimDeadline: 0,
            status: Status.Pending
        });
        _addPending(requestId);
        emit ExecutionRequested(requestId, msg.sender, imageId, inputDigest, inputUrl, inputType, msg.value, expiresAt);
    }

    function _get(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == Status.None) revert RequestNotFound(requestId);
    }

    /// @dev Linear decay from the full tip at creation to half of it DECAY_PERIOD later, flat afterwards.
    function _currentTip(Request storage r) private view returns (uint256) {
        uint256 elapsed = block.timestamp - r.createdAt;
        if (elapsed >= DECAY_PERIOD) return r.tip / 2;
        return r.tip - (r.tip * elapsed) / (2 * uint256(DECAY_PERIOD));
    }

    function _pay(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) {
            credits[to] += amount;
            emit Credited(to, amount);
        }
    }

    function _addPending(uint256 requestId) private {
        _pending.push(requestId);
        _pendingIndex[requestId] = _pending.length;
    }

    function _removePending(uint256 requestId) private {
        uint256 index = _pendingIndex[requestId];
        if (index == 0) return;
        uint256 last = _pending[_pending.length - 1];
        _pending[index - 1] = last;
        _pendingIndex[last] = index;
        _pending.pop();
        delete _pendingIndex[requestId];
    }
}
