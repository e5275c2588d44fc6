"""The lessons' text: six short guided lessons on continual learning with HyperMask, as data.

Each lesson is a sequence of steps; a step is a few sentences, one visual (named by an id that
`app.lessons.visuals.VISUALS` draws from the shipped pretrained runs or a live run), one thing to try
and what you should see. Rendering lives in `app/views/lessons.py`; nothing here imports Streamlit.
Figures quoted are those of the shipped runs (`pretrained/`, `benchmarks/results/`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One screen of a lesson: `text` (Markdown, a few sentences), the `visual` id, one thing to `try_`,
    and what you should `see`."""

    title: str
    text: str
    visual: str
    try_: str
    see: str


@dataclass(frozen=True)
class Lesson:
    """A lesson: `slug` (its name in the URL, `?lesson=<slug>`), `title`, `goal` (one line) and its steps."""

    slug: str
    title: str
    goal: str
    steps: tuple[Step, ...]


FORGETTING = Lesson("forgetting", "1 · Catastrophic forgetting",
                    "What happens to old tasks when one network learns new ones in a row.", (
    Step("One network, five tasks in a row",
         "Split MNIST cuts the digits into five tasks: 0 vs 1, 2 vs 3, … 8 vs 9. Tasks arrive one after "
         "another and earlier data is never revisited (**task-incremental learning**). Plain **fine-tuning** "
         "keeps training the same weights on each new task.",
         "ft_forgetting",
         "Follow task 0's line after the dashed marker *task 1*.",
         "Task 0 is near 100 % while it trains, then falls as soon as task 1 trains: the new task overwrites "
         "the weights the old one needed. That fall is **catastrophic forgetting**."),
    Step("Below chance: the shared head",
         "Each task has two classes, so guessing scores 50 %. Yet after the last task, fine-tuning scores far "
         "*below* 50 % on some old tasks. The network has one **shared output head**: training on each new "
         "pair of digits re-tunes that head, so an old task's images are answered with the newest task's "
         "decision rule, which is systematically wrong for them, not just random.",
         "ft_matrix",
         "Read the last row: the accuracy on every task after training the last one.",
         "The last tasks are high, but task 2 ends at about 19 % and task 0 under 50 %: a network that forgot "
         "*and* is biased toward the newest labels does worse than a coin."),
    Step("The same stream with HyperMask",
         "HyperMask trains the same target network on the same stream, but each task uses its own **mask** "
         "over the weights, made by a **hypernetwork** from that task's **task embedding**.",
         "compare_hm_ft",
         "Hide fine-tuning with the method toggle, then highlight one task.",
         "HyperMask's lines stay flat near the top after their task ends; fine-tuning's dashed lines fall."),
))

MASKS = Lesson("masks", "2 · Semi-binary masks",
               "What a semi-binary mask is and how the hypernetwork makes one.", (
    Step("From a task embedding to a mask",
         "The hypernetwork H maps task t's embedding e_t to one number o per target weight. HyperMask squashes "
         "it to r = |tanh(o)| in [0, 1], takes τ, the p-th percentile of r in each layer, and keeps "
         "M = r · [r ≥ τ]: the smallest p % become exactly 0, the rest keep their soft value. "
         "That is a **semi-binary mask**; the task's network uses W ⊙ M.",
         "mask_histogram",
         "Find the dashed line of each task: its threshold τ.",
         "A spike at 0 (the p = 30 % of entries cut) and a spread of kept values from τ up to 1."),
    Step("Which pixels each task uses",
         "Fold the first layer's mask back onto the 28×28 image: each pixel shows how strongly the weights "
         "reading it are kept for that task.",
         "input_masks",
         "Compare task 0 (0 vs 1) with task 4 (8 vs 9).",
         "Each task keeps its own pattern over the centre, where the strokes are. The border holds no ink in "
         "any image, so whatever is kept there cannot tell two digits apart."),
    Step("Sparsity per task and layer",
         "**Mask sparsity** is the share of weights a task's mask sets to zero. With p = 30 % every layer of "
         "every task drops about 30 %. The shipped Permuted MNIST run uses p = 0, the paper's setting: its "
         "masks are dense and soft (no zero), so its sparsity is 0 %.",
         "sparsity",
         "Hover over a cell: task, layer and the share of zero entries.",
         "Rows (tasks) of about the same sparsity: the threshold is per task and per layer."),
))

REGULARISERS = Lesson("regularisers", "3 · How HyperMask keeps old tasks",
                      "The two regularisers and what happens without them.", (
    Step("Two regularisers in the loss",
         "While task t trains, the loss is cross-entropy + β·R_hnet + λ·R_target. **R_hnet** keeps the "
         "hypernetwork's outputs for the old task embeddings where they were (so old masks do not move); "
         "**R_target** (an L1 term on the masked target weights) keeps the shared weights small and sparse.",
         "hm_losses",
         "Look at where the β·R_hnet line starts.",
         "Nothing to protect during task 0: the regulariser lines start at task 1 and rise when a new task "
         "pulls on the hypernetwork."),
    Step("Old masks stay put",
         "Mask drift compares each task's mask at the end of its own task with the same mask after the last "
         "task, by Jaccard overlap of the kept weights.",
         "mask_drift",
         "Find the lowest value in the table.",
         "Values near 100 %: the hypernetwork still makes almost the same mask for old tasks."),
    Step("Live ablation: β = 0 and λ = 0",
         "Switch one regulariser off at a time and train the same short task stream (Split Digits, tiny "
         "networks, a few seconds each): the full method, β = 0 and λ = 0.",
         "ablation_live",
         "Press **Start the ablation** and watch the three curves.",
         "With β = 0 nothing holds old masks in place, so old tasks fall; the full method stays high. "
         "λ = 0 matters less on so short a stream."),
))

TICKETS = Lesson("tickets", "4 · Winning tickets: one network, many subnetworks",
                 "Overlap, sparsity and whether a learned mask beats a random one.", (
    Step("How much do tasks share?",
         "Each task's mask keeps a subset of the weights: a **subnetwork**. The Jaccard overlap of two "
         "tasks' kept weights says how much of the network they share (1 = the same, 0 = disjoint).",
         "overlap",
         "Read one row: how task 0's kept weights overlap with every other task's.",
         "Off-diagonal values well below 1: tasks share part of the network and keep part of their own."),
    Step("Is the learned mask a winning ticket?",
         "A **winning ticket** is a subnetwork that works far better than a random one of the same size. The "
         "learned mask is set against masks keeping exactly as many weights per layer: random ones, the "
         "largest |W·M| and its own support with all values 1.",
         "controls",
         "Compare the learned bar with the random one for each task.",
         "The learned masks reach about 98 %, random masks of the same size about 60 % (chance 50 %)."),
    Step("Each subnetwork for its own task",
         "C[i, j] runs task i's test set through task j's subnetwork.",
         "cross_mask",
         "Compare the diagonal with the rest.",
         "A bright diagonal: each subnetwork solves its own task. Off the diagonal accuracy is lower, for "
         "some pairs near or below chance (50 %)."),
    Step("How sparse can a ticket be?",
         "Each task's mask is re-cut at sparsity p from 0 to 99 % and tested again.",
         "sweep",
         "Find where the lines start to fall.",
         "Flat up to high sparsity, then a drop: most weights can go before a task breaks."),
))

SCENARIOS = Lesson("scenarios", "5 · Task id given vs task id inferred",
                   "Task-incremental and class-incremental evaluation of the same networks.", (
    Step("Two ways to test",
         "**Task id given** (task-incremental): the test tells the network which task an image belongs to, "
         "so HyperMask uses that task's mask. **Task id inferred** (class-incremental): it must guess — "
         "every task's subnetwork answers, and the one with the lowest softmax entropy (the most confident) "
         "is taken.",
         "scenario_bars",
         "Compare each method's two bars per task.",
         "High bars with the task id given; much lower ones when it must be inferred."),
    Step("Which task does it think it is?",
         "The task-id confusion matrix: row = the true task, column = the task whose subnetwork was most "
         "confident.",
         "task_confusion",
         "Look for a diagonal.",
         "A weak diagonal: confidence alone recovers the task for under half of the test images."),
))

METRICS = Lesson("metrics", "6 · Reading the accuracy matrix",
                 "R[i, j] and the four numbers computed from it: ACC, BWT, forgetting, FWT.", (
    Step("The accuracy matrix R[i, j]",
         "**R[i, j]** is the test accuracy on task j after training task i. Row i is one moment of the "
         "stream; the diagonal is each task just learned; the last row is the end.",
         "hm_matrix",
         "Follow one column downwards: one task over time.",
         "HyperMask's columns stay constant: nothing forgotten."),
    Step("ACC, BWT and forgetting",
         "**ACC** = mean of the last row. **BWT** = mean over old tasks of (last row − diagonal): negative "
         "means forgetting. **Forgetting** = mean drop of each old task from its best.",
         "metric_bars",
         "Compare fine-tuning's BWT with HyperMask's.",
         "Fine-tuning: ACC about 64 %, BWT about −43 %; HyperMask: ACC about 98 %, BWT near 0."),
    Step("Forward transfer (FWT)",
         "**FWT** asks whether old tasks help a new one before it trains: task i evaluated with the previous "
         "task's embedding, against a randomly initialised network's accuracy.",
         "fwt_bars",
         "Compare the three methods' FWT.",
         "Small positive values (about 6–10 points): the previous task's network starts a little above a "
         "random one on the new task."),
))

LESSONS: tuple[Lesson, ...] = (FORGETTING, MASKS, REGULARISERS, TICKETS, SCENARIOS, METRICS)


def find(name: str | None) -> Lesson | None:
    """The lesson named `name`: its slug ('forgetting') or its number from 1 ('1'); None otherwise."""
    if not name:
        return None
    name = name.strip().lower()
    if name.isdigit() and len(name) <= 3 and 1 <= int(name) <= len(LESSONS):  # int() refuses 4,300+ digits
        return LESSONS[int(name) - 1]
    return next((lesson for lesson in LESSONS if lesson.slug == name), None)
