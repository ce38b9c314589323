"""The engine's events, every one delivered exactly once and in chain order, across reconnects and restarts.

Live mode subscribes to the engine's logs over WebSocket (`eth_subscribe`). Each (re)connection first
subscribes, then back-fills with `eth_getLogs` from the last delivered position up to the head, then reads
the subscription; anything seen twice (a log in both the back-fill and the subscription) is dropped by
comparing its (block, log index) with the position. When WebSocket is disabled or keeps failing, the same
loop polls `eth_getLogs` over HTTP instead.

The caller persists `event.cursor` (or `stream.position`) after handling an event and passes it back as
`after=` on restart. Reorgs are not handled: logs flagged `removed` are ignored; wait for confirmations
upstream on chains that reorganise (anvil does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from zkray.chain.artifacts import abi
from zkray.chain.errors import RpcError

LAST_INDEX = 2**63  # a cursor at (block, LAST_INDEX) means: all of `block` was delivered


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the chain's log order: the last delivered (block, log index)."""

    block: int
    log_index: int

    @classmethod
    def before_block(cls, block: int) -> Cursor:
        return cls(block - 1, LAST_INDEX)

    @property
    def next_block(self) -> int:
        """The first block that may still hold undelivered logs."""
        return self.block + 1 if self.log_index == LAST_INDEX else self.block


@dataclass(frozen=True)
class EngineEvent:
    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    block_hash: str

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.block_number, self.log_index)


@dataclass
class StreamStats:
    delivered: int = 0
    duplicates_dropped: int = 0
    reconnects: int = 0
    backfilled: int = 0
    mode: str = "ws"
    ws_failures_in_a_row: int = field(default=0, repr=False)


class EventDecoder:
    """Decodes raw JSON-RPC logs of one contract into EngineEvents by their first topic."""

    def __init__(self, contract: str = "ExecutionEngine", names: set[str] | None = None) -> None:
        self._by_topic: dict[str, dict[str, Any]] = {}
        for entry in abi(contract):
            if entry["type"] == "event" and (names is None or entry["name"] in names):
                sig = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
                self._by_topic["0x" + keccak(text=sig).hex()] = entry

    @property
    def topics(self) -> list[str]:
        return list(self._by_topic)

    def decode(self, log: dict[str, Any]) -> EngineEvent | None:
        entry = self._by_topic.get(log["topics"][0].lower()) if log.get("topics") else None
        if entry is None:
            return None
        indexed = [i for i in entry["inputs"] if i["indexed"]]
        plain = [i for i in entry["inputs"] if not i["indexed"]]
        args: dict[str, Any] = {}
        for param, topic in zip(indexed, log["topics"][1:], strict=True):
            (args[param["name"]],) = abi_decode([param["type"]], bytes.fromhex(topic[2:]))
        values = abi_decode([p["type"] for p in plain], bytes.fromhex(log["data"][2:]))
        args.update({p["name"]: v for p, v in zip(plain, values, strict=True)})
        for k, v in args.items():
            if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
                args[k] = to_checksum_address(v)
        return EngineEvent(
            name=entry["name"],
            args=args,
            block_number=int(log["blockNumber"], 16),
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"],
            block_hash=log["blockHash"],
        )


class EventStream:
    """Engine events after `after`, live over WebSocket (or by polling), each exactly once, in order."""

    def __init__(
        self,
        rpc_url: str,
        address: str,
        *,
        ws_url: str | None = None,
        after: Cursor | None = None,
        names: set[str] | None = None,
        poll_s: float = 0.5,
        max_block_range: int = 2_000,
        reconnect_s: tuple[float, float] = (0.1, 5.0),
        ws_failures_before_polling: int = 3,
        heartbeat_s: float = 5.0,
    ) -> None:
        """`ws_url=None` polls. After `ws_failures_before_polling` failed connections in a row (0: never)
        the stream polls for a minute, then tries WebSocket again."""
        self.rpc_url = rpc_url
        self.ws_url = ws_url
        self.address = to_checksum_address(address)
        self.position = after or Cursor.before_block(0)
        self.decoder = EventDecoder(names=names)
        self.poll_s = poll_s
        self.max_block_range = max_block_range
        self.reconnect_s = reconnect_s
        self.ws_failures_before_polling = ws_failures_before_polling
        self.heartbeat_s = heartbeat_s
        self.stats = StreamStats(mode="ws" if ws_url else "poll")
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None

    async def events(self, stop: asyncio.Event | None = None) -> AsyncIterator[EngineEvent]:
        """Yield events until `stop` is set. The position advances only when the consumer takes an event."""
        stop = stop or asyncio.Event()
        async with aiohttp.ClientSession() as http:
            self._http = http
            delay = self.reconnect_s[0]
            poll_until = 0.0
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                use_ws = self.ws_url is not None and loop.time() >= poll_until
                self.stats.mode = "ws" if use_ws else "poll"
                try:
                    source = self._ws_session(stop) if use_ws else self._poll_session(stop, until=poll_until)
                    async for event in source:
                        delay = self.reconnect_s[0]
                        self.stats.ws_failures_in_a_row = 0
                        yield event
                    if not use_ws:
                        continue
                except (aiohttp.ClientError, OSError, TimeoutError, RpcError, _Disconnected):
                    pass
                if stop.is_set():
                    break
                if use_ws:
                    self.stats.reconnects += 1
                    self.stats.ws_failures_in_a_row += 1
                    limit = self.ws_failures_before_polling
                    if limit and self.stats.ws_failures_in_a_row >= limit:
                        poll_until = loop.time() + 60.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, self.reconnect_s[1])

    # ---- modes ----

    async def _ws_session(self, stop: asyncio.Event) -> AsyncIterator[EngineEvent]:
        assert self._http is not None and self.ws_url is not None
        async with self._http.ws_connect(self.ws_url, heartbeat=self.heartbeat_s, max_msg_size=0) as ws:
            sub_id = next(self._ids)
            params = ["logs", {"address": self.address, "topics": [self.decoder.topics]}]
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": sub_id, "method": "eth_subscribe", "params": params}))
            # Subscribe first, then back-fill: nothing falls between the two, and overlaps are de-duplicated.
            subscription = None
            early: list[dict[str, Any]] = []
            while subscription is None:
                msg = await self._receive(ws, stop)
                if msg is None:
                    return
                if msg.get("id") == sub_id:
                    if "error" in msg:
                        raise RpcError(f"eth_subscribe failed: {msg['error']}")
                    subscription = msg["result"]
                    self.stats.ws_failures_in_a_row = 0
                elif msg.get("method") == "eth_subscription":
                    early.append(msg["params"]["result"])
            async for event in self._backfill():
                yield event
            for log in early:
                if (event := self._accept(log)) is not None:
                    yield event
            while not stop.is_set():
                msg = await self._receive(ws, stop)
                if msg is None:
                    return
                if msg.get("method") == "eth_subscription" and msg["params"].get("subscription") == subscription:
                    if (event := self._accept(msg["params"]["result"])) is not None:
                        yield event

    async def _poll_session(self, stop: asyncio.Event, until: float) -> AsyncIterator[EngineEvent]:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            async for event in self._backfill():
                yield event
            if until and loop.time() >= until:
                return  # time to try WebSocket again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)

    # ---- pieces ----

    async def _backfill(self) -> AsyncIterator[EngineEvent]:
        """Every log from the position's block up to the head, in ranges of at most max_block_range."""
        head = int(await self._rpc("eth_blockNumber", []), 16)
        start = self.position.next_block
        while start <= head:
            end = min(start + self.max_block_range - 1, head)
            flt = {
                "address": self.address,
                "topics": [self.decoder.topics],
                "fromBlock": hex(start),
                "toBlock": hex(end),
            }
            logs = await self._rpc("eth_getLogs", [flt])
            logs.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
            for log in logs:
                if (event := self._accept(log)) is not None:
                    self.stats.backfilled += 1
                    yield event
            # Everything up to `end` is delivered, including blocks that had no event.
            self.position = max(self.position, Cursor(end, LAST_INDEX))
            start = end + 1

    def _accept(self, log: dict[str, Any]) -> EngineEvent | None:
        if log.get("removed"):
            return None
        key = Cursor(int(log["blockNumber"], 16), int(log["logIndex"], 16))
        if key <= self.position:
            self.stats.duplicates_dropped += 1
            return None
        event = self.decoder.decode(log)
        # Advance before yielding: a consumer that stops right after handling has a correct position.
        self.position = key
        if event is not None:
            self.stats.delivered += 1
        return event

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event) -> dict[str, Any] | None:
        receive = asyncio.ensure_future(ws.receive())
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:
            receive.cancel()
            return None
        stopped.cancel()
        msg = receive.result()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise _Disconnected(f"websocket closed: {msg.type.name}")
        data: dict[str, Any] = json.loads(msg.data)
        return data

    async def _rpc(self, method: str, params: list[Any]) -> Any:
        assert self._http is not None
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        timeout = aiohttp.ClientTimeout(total=30)
        async with self._http.post(self.rpc_url, json=body, timeout=timeout) as resp:
            reply = await resp.json(content_type=None)
        if "error" in reply:
            raise RpcError(f"{method} failed: {reply['error']}")
        return reply["result"]


class _Disconnected(Exception):
    """The WebSocket closed; the stream reconnects and back-fills."""
