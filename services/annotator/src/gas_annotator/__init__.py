"""GAS annotator: worker: runs anntools on queued jobs."""
