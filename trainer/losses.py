"""Training losses as pure tensor functions: token cross entropy and Phantom Optimization.

Both return *sums* plus counts, so that the loop can normalise by the token / triple count of the whole optimizer
step (all micro-batches, all ranks). That makes N ranks x B rows equal to 1 rank x N*B rows, and gradient
accumulation equal to one large batch (the gradient-accumulation normalisation bug discussed by HF in 2024).

Phantom Optimization (spec/model.md §10, §12): for a triple (x, y+, y-), with
l(y) = (1/|y|) sum_t log p(y_t | x, y<t),
    L = sft_weight * CE_tokens(y+) + pref_weight * [ -log sigmoid(beta * l(y+) - beta * l(y-) - gamma) ]
i.e. SFT plus a SimPO-form preference term (SimPO: Meng et al. 2024, Eq. 6), beta 2.0 and gamma 0.5 from the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def shifted_token_logprobs(logits: torch.Tensor, labels: torch.Tensor,
                           attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of every next-token label and its validity mask, both (B, L-1).

    Position t predicts label t+1. Labels equal to -100, and positions whose shifted attention mask is 0 (as the
    authors' TroL `forward` does, spec/model.md §4.4), do not count.
    """
    logits = logits[:, :-1].float()
    target = labels[:, 1:]
    valid = target != IGNORE_INDEX
    if attention_mask is not None:
        valid = valid & attention_mask[:, 1:].bool()
    safe = target.masked_fill(~valid, 0)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return logp * valid, valid


def token_ce_sum(logits: torch.Tensor, labels: torch.Tensor,
                 attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """Summed next-token cross entropy over valid labels, and the number of valid labels."""
    target = labels[:, 1:].clone()
    if attention_mask is not None:
        target = target.masked_fill(~attention_mask[:, 1:].bool(), IGNORE_INDEX)
    flat = logits[:, :-1].float().reshape(-1, logits.size(-1))
    ce = F.cross_entropy(flat, target.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    return ce, int((target != IGNORE_INDEX).sum())


def mean_answer_logprob(logits: torch.Tensor, labels: torch.Tensor,
                        attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """l(y) per row: the mean log-likelihood of the answer (label) tokens, (B,). Rows without labels give 0."""
    logp, valid = shifted_token_logprobs(logits, labels, attention_mask)
    return logp.sum(-1) / valid.sum(-1).clamp(min=1)


def preference_terms(chosen_logp: torch.Tensor, rejected_logp: torch.Tensor, beta: float,
                     gamma: float) -> torch.Tensor:
    """Per-triple SimPO-form term -log sigmoid(beta*l(y+) - beta*l(y-) - gamma), (B,)."""
    return -F.logsigmoid(beta * chosen_logp - beta * rejected_logp - gamma)


@dataclass
class LossParts:
    """Sums over one micro-batch; the loop divides by the step's global counts."""

    ce_sum: torch.Tensor  # summed CE over chosen/answer tokens
    n_tokens: int
    pref_sum: torch.Tensor | None = None  # summed preference terms over triples
    n_pairs: int = 0
    margin_sum: float = 0.0  # sum of beta*(l+ - l-) (logged)
    correct: int = 0  # triples with l+ > l- (logged)


def sft_parts(logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None = None) -> LossParts:
    ce, n = token_ce_sum(logits, labels, attention_mask)
    return LossParts(ce_sum=ce, n_tokens=n)


def phantom_opt_parts(chosen_logits: torch.Tensor, chosen_labels: torch.Tensor, rejected_logits: torch.Tensor,
                      rejected_labels: torch.Tensor, beta: float, gamma: float,
                      chosen_mask: torch.Tensor | None = None,
                      rejected_mask: torch.Tensor | None = None) -> LossParts:
    """SFT sum on y+ plus the summed preference terms of the micro-batch's triples."""
    ce, n = token_ce_sum(chosen_logits, chosen_labels, chosen_mask)
    lp = mean_answer_logprob(chosen_logits, chosen_labels, chosen_mask)
    ln = mean_answer_logprob(rejected_logits, rejected_labels, rejected_mask)
    pref = preference_terms(lp, ln, beta, gamma)
    return LossParts(ce_sum=ce, n_tokens=n, pref_sum=pref.sum(), n_pairs=int(pref.numel()),
                     margin_sum=float((beta * (lp - ln)).sum().detach()), correct=int((lp > ln).sum()))


def combine(parts: LossParts, total_tokens: int, total_pairs: int, sft_weight: float = 1.0,
            pref_weight: float = 1.0) -> torch.Tensor:
    """This micro-batch's share of the step loss: sums divided by the step's global counts."""
    loss = sft_weight * parts.ce_sum / max(total_tokens, 1)
    if parts.pref_sum is not None:
        loss = loss + pref_weight * parts.pref_sum / max(total_pairs, 1)
    return loss


def phantom_optimization_loss(chosen_logits: torch.Tensor, chosen_labels: torch.Tensor,
                              rejected_logits: torch.Tensor, rejected_labels: torch.Tensor, beta: float = 2.0,
                              gamma: float = 0.5, sft_weight: float = 1.0, pref_weight: float = 1.0) -> torch.Tensor:
    """The batch-mean Phantom Optimization loss (token-mean SFT + triple-mean preference term)."""
    parts = phantom_opt_parts(chosen_logits, chosen_labels, rejected_logits, rejected_labels, beta, gamma)
    return combine(parts, parts.n_tokens, parts.n_pairs, sft_weight, pref_weight)
