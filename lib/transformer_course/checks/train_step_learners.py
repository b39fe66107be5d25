"""What learners write for ``train_step``, as code: the other correct answers and each Mistake's example.

``step_by_hand`` runs the four actions in any order (the usual order is a correct answer, and the
checker's reference); then steps that clear, compute, return or clip the wrong way.
``train_step`` (the exercise and its checker) imports this module; this module does not import it.
"""

from __future__ import annotations

import torch


def step_by_hand(
    model, optimiser, loss_fn, batch, *, order=("zero", "loss", "backward", "step"), returns="item"
):
    """A learner's step with the four actions in any order (the usual one: correct), and two
    actions that do not belong: "loss / B" (the loss divided by the batch size), "ascend"
    (backward through -loss) and "backward, graph kept" (retain_graph=True, so that another
    backward can follow)."""
    loss = None
    for action in order:
        if action == "zero":
            optimiser.zero_grad()
        elif action == "loss":
            loss = loss_fn(model, batch)
        elif action == "loss / B":
            loss = loss_fn(model, batch) / len(batch[0])
        elif action == "loss * B":
            loss = loss_fn(model, batch) * len(batch[0])
        elif action == "backward":
            loss.backward()
        elif action == "backward, graph kept":
            loss.backward(retain_graph=True)
        elif action == "ascend":
            (-loss).backward()
        elif action == "step":
            optimiser.step()
        elif action == "loss again":
            loss = loss_fn(model, batch)
    return {"item": lambda: loss.item(), "tensor": lambda: loss, "none": lambda: None}[returns]()


def zero_grad_on_the_model(model, optimiser, loss_fn, batch):
    model.zero_grad(set_to_none=False)  # zeros instead of None: the same for plain SGD and Adam
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def makes_an_optimiser(model, optimiser, loss_fn, batch):
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)  # as in the tutorial it was copied from
    sgd.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    sgd.step()
    return loss.item()


def calls_loss_pytorch_style(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    x, y = batch
    loss = loss_fn(model(x), y)  # as nn.MSELoss is called
    loss.backward()
    optimiser.step()
    return loss.item()


def clips(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as nanoGPT's training loop
    optimiser.step()
    return loss.item()


def evaluates(model, optimiser, loss_fn, batch):
    model.eval()  # "to get a clean loss", as in the evaluation loop
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


def without_grad(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    with torch.no_grad():
        loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


def backward_twice(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    loss.backward()  # "to be sure"
    return loss.item()


def reports_the_new_loss(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss_fn(model, batch).backward()
    optimiser.step()
    return loss_fn(model, batch).item()  # "the loss now"


def steps_twice(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    optimiser.step()  # "to learn faster"
    return loss.item()


def divides_by_the_batch_size(model, optimiser, loss_fn, batch):
    x, _ = batch
    optimiser.zero_grad()
    loss = loss_fn(model, batch) / x.shape[0]  # "the mean over the batch"
    loss.backward()
    optimiser.step()
    return loss.item()


def climbs_the_loss(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    (-loss).backward()  # "the step goes against the gradient"
    optimiser.step()
    return loss.item()


# --- The wrong answers met in the ninth audit (train_step_more) ---


def sums_over_the_batch(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch) * batch[0].shape[0]  # "the total over the batch"
    loss.backward()
    optimiser.step()
    return loss.item()


def returns_an_int(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return int(loss)


def gives_the_loss_to_step(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step(loss)  # "step along this loss"
    return loss.item()


def returns_the_method(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item  # the brackets forgotten


# --- The wrong answers met in the tenth audit (train_step_more) ---


def returns_it_in_a_list(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return [loss.item()]  # "the losses"


# --- The wrong answers met in the round-41 battery (train_step_more) ---


def keeps_the_graph_for_a_second_backward(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward(retain_graph=True)  # as the error "backward through the graph a second time" advises
    loss.backward()
    optimiser.step()
    return loss.item()


def scales_by_the_learning_rate(model, optimiser, loss_fn, batch):
    lr = 0.1  # "the step size"
    optimiser.zero_grad()
    loss = loss_fn(model, batch) * lr
    loss.backward()
    optimiser.step()
    return loss.item()


def steps_on_each_example(model, optimiser, loss_fn, batch):
    x, y = batch
    losses = []
    for i in range(len(x)):  # "one example at a time"
        optimiser.zero_grad()
        loss = loss_fn(model, (x[i : i + 1], y[i : i + 1]))
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


# --- Round 42's battery: the examples of train_step_slips ---


def computes_its_own_loss(model, optimiser, loss_fn, batch):
    x, y = batch
    optimiser.zero_grad()
    loss = torch.nn.functional.l1_loss(model(x), y)  # the loss of another cell, not loss_fn
    loss.backward()
    optimiser.step()
    return loss.item()


def returns_a_numpy_number(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.detach().numpy()  # "a plain number", from NumPy


def rounds_the_loss(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return round(loss.item(), 3)  # tidy for printing


def returns_the_sum_over_the_batch(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item() * len(batch[0])  # "the total loss of the batch"


def sets_the_learning_rate(model, optimiser, loss_fn, batch):
    for group in optimiser.param_groups:
        group["lr"] = 0.01  # a smaller step "to be safe"
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


def clips_each_gradient(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)
    optimiser.step()
    return loss.item()


def feeds_the_targets_to_the_model(model, optimiser, loss_fn, batch):
    x, y = batch
    optimiser.zero_grad()
    loss = loss_fn(model, (y, x))  # unpacked, and packed back the other way round
    loss.backward()
    optimiser.step()
    return loss.item()


# --- Round 43: another right answer, in a style not registered before ---
def through_a_closure(model, optimiser, loss_fn, batch):
    """optimiser.step(closure): the optimiser calls it for the loss, and returns that loss."""

    def closure():
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        return loss

    return optimiser.step(closure).item()
