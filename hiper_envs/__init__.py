"""Option-aware Gymnasium environments for hierarchical LLM agents."""
