"""Task-free ``nn.Module`` building blocks: attention, the linear-chain CRF."""
