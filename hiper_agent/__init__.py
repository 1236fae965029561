"""HiPER agent: LLM planner/executor policies, HAE credit assignment and PPO training."""
