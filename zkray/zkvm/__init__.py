"""The proof system: field, NTT, Merkle, transcript, FRI, AIR, STARK prove/verify, receipts.

Pure computation: nothing here imports Ray or does I/O.
"""
