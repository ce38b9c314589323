import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEB_PROVER: _ClassVar[NodeType]
    CLI_PROVER: _ClassVar[NodeType]
WEB_PROVER: NodeType
CLI_PROVER: NodeType

class Task(_message.Message):
    __slots__ = ("task_id", "program_id", "public_inputs", "created_at", "deadline")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_INPUTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    program_id: str
    public_inputs: bytes
    created_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., program_id: _Optional[str] = ..., public_inputs: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetProofTaskRequest(_message.Message):
    __slots__ = ("node_id", "node_type", "ed25519_public_key", "max_tasks")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ED25519_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_type: NodeType
    ed25519_public_key: bytes
    max_tasks: int
    def __init__(self, node_id: _Optional[str] = ..., node_type: _Optional[_Union[NodeType, str]] = ..., ed25519_public_key: _Optional[bytes] = ..., max_tasks: _Optional[int] = ...) -> None: ...

class GetProofTaskResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class SubmitProofRequest(_message.Message):
    __slots__ = ("task_id", "node_id", "node_type", "proof", "proof_hash", "signature", "ed25519_public_key", "signature_version")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    PROOF_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ED25519_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    node_id: str
    node_type: NodeType
    proof: bytes
    proof_hash: str
    signature: bytes
    ed25519_public_key: bytes
    signature_version: int
    def __init__(self, task_id: _Optional[str] = ..., node_id: _Optional[str] = ..., node_type: _Optional[_Union[NodeType, str]] = ..., proof: _Optional[bytes] = ..., proof_hash: _Optional[str] = ..., signature: _Optional[bytes] = ..., ed25519_public_key: _Optional[bytes] = ..., signature_version: _Optional[int] = ...) -> None: ...

class SubmitProofResponse(_message.Message):
    __slots__ = ("task_id", "accepted_total")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    accepted_total: int
    def __init__(self, task_id: _Optional[str] = ..., accepted_total: _Optional[int] = ...) -> None: ...

class NodeStatsReport(_message.Message):
    __slots__ = ("node_id", "ed25519_public_key", "tasks_fetched", "duplicates_skipped", "proofs_generated", "proofs_submitted", "proofs_failed", "submissions_rejected", "queue_depth", "mean_prove_seconds", "uptime_seconds", "submissions_abandoned", "rate_limited", "no_tasks")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ED25519_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    TASKS_FETCHED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    PROOFS_GENERATED_FIELD_NUMBER: _ClassVar[int]
    PROOFS_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FAILED_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MEAN_PROVE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_ABANDONED_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_FIELD_NUMBER: _ClassVar[int]
    NO_TASKS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    ed25519_public_key: bytes
    tasks_fetched: int
    duplicates_skipped: int
    proofs_generated: int
    proofs_submitted: int
    proofs_failed: int
    submissions_rejected: int
    queue_depth: int
    mean_prove_seconds: float
    uptime_seconds: float
    submissions_abandoned: int
    rate_limited: int
    no_tasks: int
    def __init__(self, node_id: _Optional[str] = ..., ed25519_public_key: _Optional[bytes] = ..., tasks_fetched: _Optional[int] = ..., duplicates_skipped: _Optional[int] = ..., proofs_generated: _Optional[int] = ..., proofs_submitted: _Optional[int] = ..., proofs_failed: _Optional[int] = ..., submissions_rejected: _Optional[int] = ..., queue_depth: _Optional[int] = ..., mean_prove_seconds: _Optional[float] = ..., uptime_seconds: _Optional[float] = ..., submissions_abandoned: _Optional[int] = ..., rate_limited: _Optional[int] = ..., no_tasks: _Optional[int] = ...) -> None: ...

class NodeStatsAck(_message.Message):
    __slots__ = ("reports_received",)
    REPORTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    reports_received: int
    def __init__(self, reports_received: _Optional[int] = ...) -> None: ...
