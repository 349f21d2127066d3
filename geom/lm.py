"""One Levenberg-Marquardt driver for every non-linear refinement in mvdepth (the relative and
absolute pose, the fundamental matrix, bundle adjustment), in numba; PoseLib's `lm_impl` and
Ceres' trust region are the models.

A problem is a `collections.namedtuple` class holding its data (and any scratch arrays); its
module registers four kernels for it (`register`), which the driver resolves at compile time
from the type of the data, so each problem compiles its own specialisation of one loop:

- `cost(params, data) -> float`: the cost at the state `params` (a flat float64 (n,) vector;
  its layout is the problem's);
- `linearise(params, data) -> (gradient_max, system)`: the Gauss-Newton system at params (any
  tuple, e.g. (J^T W J, J^T W r); IRLS weights of a robust loss go in here) and the largest
  absolute entry of the gradient over the free parameters;
- `solve(system, mu, data, step) -> predicted`: the damped step h (m,) into `step` (m, the size
  of the tangent space, may differ from n) of (J^T W J + mu D) h = -J^T W r, D = diag(J^T W J)
  floored at DIAGONAL_MIN (Marquardt's scaling), and its predicted cost reduction
  0.5 h^T (mu D h - g); -1.0 when the damped system cannot be factored. Default:
  `dense_solve` of system = (JtJ (m, m), g (m,));
- `retract(params, step, data, out)`: out (n,) = params moved by the step on the manifold.

The policy (Nielsen's, as Ceres and Madsen-Nielsen-Tingleff): a step is accepted when it lowers
the cost (gain ratio rho = actual / predicted reduction > 0); then mu *= max(1/3,
1 - (2 rho - 1)^3), else mu *= nu, nu *= 2. It stops after `max_iterations` linearisations or
`max_evaluations` cost evaluations, when an accepted step lowers the cost by less than
`tolerance` times the cost, when the gradient's largest entry is below `tolerance`, or when no
damping up to MU_MAX lowers the cost.
"""
import numpy as np
from numba import njit
from numba.extending import overload

MU_START = 1e-4  # first damping, relative to the diagonal D
MU_MAX = 1e16  # damping at which a step is given up
DIAGONAL_MIN = 1e-6  # floor of Marquardt's scaling (parameters the data barely see)

_PROBLEMS = {}


def register(problem, *, cost, linearise, retract, solve=None):
    """Make the namedtuple class `problem` a problem of `levenberg_marquardt` with these
    njit kernels (see the module docstring; their arguments named as there: params, data,
    system, mu, step, out); solve defaults to `dense_solve`."""
    _PROBLEMS[problem] = {"cost": cost, "linearise": linearise, "retract": retract,
                          "solve": dense_solve if solve is None else solve}


def _kernel(name, data):
    """The Python function of the kernel `name` registered for the problem whose data has numba
    type `data` (compiled in place of the stub: no wrapper layer to compile), else None."""
    kernels = _PROBLEMS.get(getattr(data, "instance_class", None))
    return None if kernels is None else kernels[name].py_func


def _cost(params, data):
    """The registered cost of data's problem (numba code only; so are the three below)."""


@overload(_cost)
def _cost_of(params, data):
    return _kernel("cost", data)


def _linearise(params, data):
    """The registered linearisation."""


@overload(_linearise)
def _linearise_of(params, data):
    return _kernel("linearise", data)


def _solve(system, mu, data, step):
    """The registered damped solve."""


@overload(_solve)
def _solve_of(system, mu, data, step):
    return _kernel("solve", data)


def _retract(params, step, data, out):
    """The registered retraction."""


@overload(_retract)
def _retract_of(params, step, data, out):
    return _kernel("retract", data)


@njit(cache=True)
def levenberg_marquardt(params, data, tangent_size, max_iterations, max_evaluations, tolerance):
    """Minimise the cost of data's problem over params (n,), in place (see the module
    docstring); tangent_size: the size m of a step. Returns (final cost, cost evaluations)."""
    cost = _cost(params, data)
    evaluations = 1
    moved = np.empty_like(params)
    step = np.empty(tangent_size)
    mu, nu = MU_START, 2.0
    for _ in range(max_iterations):
        if evaluations >= max_evaluations:
            break
        gradient_max, system = _linearise(params, data)
        if gradient_max < tolerance:
            break
        accepted = converged = False
        while not accepted and evaluations < max_evaluations and mu < MU_MAX:
            predicted = _solve(system, mu, data, step)
            if not predicted > 0.0:
                mu, nu = mu * nu, 2.0 * nu
                continue
            _retract(params, step, data, moved)
            new_cost = _cost(moved, data)
            evaluations += 1
            rho = (cost - new_cost) / predicted
            if rho > 0.0:
                accepted = True
                params[:] = moved
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                converged = cost - new_cost < tolerance * cost
                cost = new_cost
            else:
                mu, nu = mu * nu, 2.0 * nu
        if not accepted or converged:
            break
    return cost, evaluations


@njit(cache=True)
def dense_solve(system, mu, data, step):
    """The damped step of a dense system = (JtJ (m, m), g (m,)) into step (m,) by Cholesky;
    returns the predicted reduction, -1.0 where the damped matrix is not positive definite."""
    JtJ, g = system[0], system[1]
    m = g.shape[0]
    A = JtJ.copy()
    D = np.empty(m)
    for k in range(m):
        D[k] = max(JtJ[k, k], DIAGONAL_MIN)
        A[k, k] += mu * D[k]
    if not _cholesky(A):
        return -1.0
    step[:] = -g
    cholesky_solve(A, step)
    predicted = 0.0
    for k in range(m):
        predicted += step[k] * (mu * D[k] * step[k] - g[k])
    return 0.5 * predicted


@njit(cache=True)
def _cholesky(A):
    """A (m, m) symmetric positive definite -> its lower Cholesky factor L, in place (the upper
    triangle is left as it was); False where A is not positive definite."""
    m = A.shape[0]
    for j in range(m):
        s = A[j, j]
        for k in range(j):
            s -= A[j, k] * A[j, k]
        if not s > 0.0:
            return False
        A[j, j] = np.sqrt(s)
        for i in range(j + 1, m):
            s = A[i, j]
            for k in range(j):
                s -= A[i, k] * A[j, k]
            A[i, j] = s / A[j, j]
    return True


@njit(cache=True)
def cholesky_solve(L, b):
    """b <- (L L^T)^-1 b in place, L (m, m) lower triangular (the upper triangle is not read)."""
    m = b.size
    for i in range(m):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * b[k]
        b[i] = s / L[i, i]
    for i in range(m - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, m):
            s -= L[k, i] * b[k]
        b[i] = s / L[i, i]


@njit(cache=True)
def symmetrise(A):
    """Copy the upper triangle of the square A into its lower one, in place (normal equations
    are accumulated in the upper triangle)."""
    for k in range(A.shape[0]):
        for m in range(k):
            A[k, m] = A[m, k]
