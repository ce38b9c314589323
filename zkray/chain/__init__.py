"""The on-chain adapter: contracts and their artifacts, the local devnet, the engine client, the event
stream and the nonce bookkeeping. Policy (what to claim, when to retry) lives elsewhere; this package
only talks to the chain, safely."""
