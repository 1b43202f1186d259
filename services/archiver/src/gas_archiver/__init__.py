"""GAS archiver: worker: free-tier results to cold storage and back."""
