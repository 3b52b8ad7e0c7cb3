"""Phantom Optimization and token CE against values computed by hand on tiny tensors."""
from __future__ import annotations

import math

import pytest
import torch

from trainer.losses import (
    combine,
    mean_answer_logprob,
    phantom_opt_parts,
    phantom_optimization_loss,
    preference_terms,
    sft_parts,
    token_ce_sum,
)


def _logits(rows: list[list[list[float]]]) -> torch.Tensor:
    """Logits whose softmax is exactly the given probability rows (log of the probabilities)."""
    return torch.tensor(rows, dtype=torch.float64).log()


# Two triples, vocabulary 3, length 3 (positions 0 and 1 predict labels 1 and 2; label 0 is never predicted).
U = [1 / 3, 1 / 3, 1 / 3]  # position 2 predicts nothing
CHOSEN = _logits([[[0.5, 0.25, 0.25], [0.2, 0.6, 0.2], U],
                  [[0.3, 0.3, 0.4], [0.4, 0.4, 0.2], U]])
CHOSEN_LABELS = torch.tensor([[-100, 0, 1], [-100, -100, 2]])
REJECTED = _logits([[[0.1, 0.1, 0.8], [0.3, 0.3, 0.4], U],
                    [[0.25, 0.5, 0.25], [0.5, 0.2, 0.3], U]])
REJECTED_LABELS = torch.tensor([[-100, 0, -100], [-100, 1, 0]])

# By hand: l(y) = mean log p of the labelled tokens.
L_POS = [(math.log(0.5) + math.log(0.6)) / 2, math.log(0.2)]  # -0.601986, -1.609438
L_NEG = [math.log(0.1), (math.log(0.5) + math.log(0.5)) / 2]  # -2.302585, -0.693147


def test_mean_answer_logprob_by_hand():
    got = mean_answer_logprob(CHOSEN, CHOSEN_LABELS)
    assert got.tolist() == pytest.approx(L_POS, abs=1e-6)
    got = mean_answer_logprob(REJECTED, REJECTED_LABELS)
    assert got.tolist() == pytest.approx(L_NEG, abs=1e-6)


def test_preference_term_by_hand():
    # triple 1: z = 2*(-0.601986 + 2.302585) - 0.5 = 2.901197; -log sigmoid(z) = log(1 + e^-z) = 0.053500
    # triple 2: z = 2*(-1.609438 + 0.693147) - 0.5 = -2.332582; log(1 + e^-z) = 2.425202
    terms = preference_terms(torch.tensor(L_POS), torch.tensor(L_NEG), beta=2.0, gamma=0.5)
    assert terms.tolist() == pytest.approx([0.0535004, 2.4252021], abs=1e-6)


def test_token_ce_by_hand():
    ce, n = token_ce_sum(CHOSEN, CHOSEN_LABELS)
    assert n == 3
    assert float(ce) == pytest.approx(-(math.log(0.5) + math.log(0.6) + math.log(0.2)), abs=1e-6)  # 2.813411


def test_phantom_optimization_loss_by_hand():
    # token-mean CE over the 3 chosen tokens: 2.813411 / 3 = 0.937804; triple-mean preference term:
    # (0.053500 + 2.425202) / 2 = 1.239045; total with weights 1/1 = 2.176849
    loss = phantom_optimization_loss(CHOSEN, CHOSEN_LABELS, REJECTED, REJECTED_LABELS, beta=2.0, gamma=0.5)
    assert float(loss) == pytest.approx(0.9378036 + 1.2393510, abs=1e-6)
    weighted = phantom_optimization_loss(CHOSEN, CHOSEN_LABELS, REJECTED, REJECTED_LABELS, beta=2.0, gamma=0.5,
                                         sft_weight=0.5, pref_weight=2.0)
    assert float(weighted) == pytest.approx(0.5 * 0.9378036 + 2.0 * 1.2393510, abs=1e-6)


def test_gamma_and_beta_move_the_term_the_right_way():
    base = preference_terms(torch.tensor(L_POS), torch.tensor(L_NEG), 2.0, 0.5)
    assert (preference_terms(torch.tensor(L_POS), torch.tensor(L_NEG), 2.0, 1.5) > base).all()  # larger margin
    # the chosen answer is more likely in triple 1: a larger beta lowers its term
    assert float(preference_terms(torch.tensor(L_POS), torch.tensor(L_NEG), 4.0, 0.5)[0]) < float(base[0])


def test_attention_mask_drops_padded_positions():
    labels = torch.tensor([[-100, 0, 1]])
    logits = CHOSEN[:1]
    mask = torch.tensor([[1, 1, 0]])  # the last token is padding: its label is not counted
    ce, n = token_ce_sum(logits, labels, mask)
    assert n == 1 and float(ce) == pytest.approx(-math.log(0.5), abs=1e-6)


def test_split_normalisation_equals_full_batch():
    """Sums divided by the step's global counts: two halves add up to the full-batch loss exactly."""
    full = phantom_optimization_loss(CHOSEN, CHOSEN_LABELS, REJECTED, REJECTED_LABELS)
    halves = [phantom_opt_parts(CHOSEN[i:i + 1], CHOSEN_LABELS[i:i + 1], REJECTED[i:i + 1],
                                REJECTED_LABELS[i:i + 1], 2.0, 0.5) for i in range(2)]
    tok = sum(h.n_tokens for h in halves)
    pairs = sum(h.n_pairs for h in halves)
    assert float(sum(combine(h, tok, pairs) for h in halves)) == pytest.approx(float(full), abs=1e-6)
    sft = [sft_parts(CHOSEN[i:i + 1], CHOSEN_LABELS[i:i + 1]) for i in range(2)]
    assert float(sum(combine(s, 3, 0) for s in sft)) == pytest.approx(0.9378036, abs=1e-6)


def test_gradient_flows_to_both_branches():
    c = CHOSEN.clone().requires_grad_(True)
    r = REJECTED.clone().requires_grad_(True)
    phantom_optimization_loss(c, CHOSEN_LABELS, r, REJECTED_LABELS).backward()
    assert c.grad.abs().sum() > 0 and r.grad.abs().sum() > 0
