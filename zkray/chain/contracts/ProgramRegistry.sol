// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title ProgramRegistry
/// @notice Maps a guest program's image id to its name, the verifier that checks its proofs, an active flag
///         and where provers fetch its ELF. Curated by the owner: the engine accepts requests only for
///         registered, active programs, so a requester cannot route a job to a verifier that accepts anything.
contract ProgramRegistry is Ownable {
    struct Program {
        string name;
        address verifier;
        bool active;
        string elfUrl;
        uint64 registeredAt;
    }

    error ProgramAlreadyRegistered(bytes32 imageId);
    error ProgramNotRegistered(bytes32 imageId);
    error ZeroVerifier();

    event ProgramRegistered(bytes32 indexed imageId, string name, address verifier, string elfUrl);
    event ProgramUpdated(bytes32 indexed imageId, address verifier, bool active, string elfUrl);

    mapping(bytes32 => Program) private _programs;
    bytes32[] private _imageIds;

    constructor(address initialOwner) Ownable(initialOwner) {}

    function registerProgram(bytes32 imageId, string calldata name, address verifier, string calldata elfUrl)
        external
        onlyOwner
    {
        if (_programs[imageId].registeredAt != 0) revert ProgramAlreadyRegistered(imageId);
        if (verifier == address(0)) revert ZeroVerifier();
        _programs[imageId] = Program(name, verifier, true, elfUrl, uint64(block.timestamp));
        _imageIds.push(imageId);
        emit ProgramRegistered(imageId, name, verifier, elfUrl);
    }

    function updateProgram(bytes32 imageId, address verifier, bool active, string calldata elfUrl)
        external
        onlyOwner
    {
        Program storage p = _requireProgram(imageId);
        if (verifier == address(0)) revert ZeroVerifier();
        p.verifier = verifier;
        p.active = active;
        p.elfUrl = elfUrl;
        emit ProgramUpdated(imageId, verifier, active, elfUrl);
    }

    function getProgram(bytes32 imageId) external view returns (Program memory) {
        return _requireProgram(imageId);
    }

    /// @notice The verifier of a registered program, active or not: a job accepted while the program was
    ///         active can still be completed after the program is deactivated.
    function verifierOf(bytes32 imageId) external view returns (address) {
        return _requireProgram(imageId).verifier;
    }

    function isActive(bytes32 imageId) external view returns (bool) {
        return _programs[imageId].active;
    }

    function programCount() external view returns (uint256) {
        return _imageIds.length;
    }

    function imageIdAt(uint256 index) external view returns (bytes32) {
        return _imageIds[index];
    }

    function _requireProgram(bytes32 imageId) private view returns (Program storage p) {
        p = _programs[imageId];
        if (p.registeredAt == 0) revert ProgramNotRegistered(imageId);
    }
}
