"""tau2-bench retail (spec section 10) as a second suite: data, tools with tau2 semantics, reward, agent loop."""
