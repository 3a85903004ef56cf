/*
 * The forward loop of the LIF scan in C (see pynmsnn/neurons.py for the
 * equations and the torch version that gives the same numbers).
 *
 * The torch version dispatches three small ops per time step; on a CPU each
 * dispatch costs microseconds, more than the arithmetic of a small layer.
 * Here a layer's whole scan is one call. Tensors arrive as raw pointers to
 * contiguous float32 or float64 memory; the caller checks shapes and dtypes.
 *
 *   current   (n_steps, n) or, with current_stride 0, one (n) constant current
 *   membrane  (n_steps, n) pre-reset membrane, or one (n) buffer when
 *             membrane_stride is 0 (inference keeps no history)
 *   spikes    (n_steps, n) output, 0 or 1
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

#define DEFINE_SCAN(NAME, REAL)                                                          \
    VECTOR_CLONES static void NAME(const REAL *current, Py_ssize_t current_stride,        \
                                   REAL *membrane, Py_ssize_t membrane_stride,            \
                                   REAL *spikes, REAL *v, Py_ssize_t n_steps,             \
                                   Py_ssize_t n, REAL decay, REAL threshold, REAL drop)  \
    {                                                                                    \
        for (Py_ssize_t j = 0; j < n; j++) v[j] = 0;                                     \
        for (Py_ssize_t t = 0; t < n_steps; t++) {                                       \
            const REAL *c = current + t * current_stride;                                \
            REAL *m = membrane + t * membrane_stride;                                    \
            REAL *s = spikes + t * n;                                                    \
            for (Py_ssize_t j = 0; j < n; j++) {                                         \
                REAL value = c[j] + decay * v[j]; /* leak + integrate */                 \
                REAL fired = value > threshold ? (REAL)1 : (REAL)0; /* fire */           \
                m[j] = value;                                                            \
                s[j] = fired;                                                            \
                v[j] = value - fired * drop; /* reset */                                 \
            }                                                                            \
        }                                                                                \
    }

DEFINE_SCAN(scan_float, float)
DEFINE_SCAN(scan_double, double)

/*
 * Inference through the last hidden layer: the same scan, but instead of the
 * spikes it returns their weighted sum over time, pooled[j] = sum_t w[t] s[t][j]
 * (the readout's leak weights), so the (n_steps, n) spikes are never written.
 */
#define DEFINE_POOLED_SCAN(NAME, REAL)                                                   \
    VECTOR_CLONES static void NAME(const REAL *current, Py_ssize_t current_stride,        \
                                   const REAL *weights, REAL *pooled, REAL *v,            \
                                   Py_ssize_t n_steps, Py_ssize_t n, REAL decay,          \
                                   REAL threshold, REAL drop)                             \
    {                                                                                    \
        for (Py_ssize_t j = 0; j < n; j++) v[j] = 0, pooled[j] = 0;                      \
        for (Py_ssize_t t = 0; t < n_steps; t++) {                                       \
            const REAL *c = current + t * current_stride;                                \
            const REAL w = weights[t];                                                   \
            for (Py_ssize_t j = 0; j < n; j++) {                                         \
                REAL value = c[j] + decay * v[j];                                        \
                REAL fired = value > threshold ? (REAL)1 : (REAL)0;                      \
                pooled[j] += w * fired;                                                  \
                v[j] = value - fired * drop;                                             \
            }                                                                            \
        }                                                                                \
    }

DEFINE_POOLED_SCAN(pooled_scan_float, float)
DEFINE_POOLED_SCAN(pooled_scan_double, double)

/*
 * Inference between bfloat16 matmuls (float32 only). The current is float32
 * (stride n, or 0 for a constant current), or a bfloat16 matmul product
 * (n_steps, n_rows, n_neurons) to which each neuron's float32 bias is added
 * after widening, as the torch path does. The result is the spikes as
 * bfloat16, ready for the next matmul, or, when pooled is
 * not NULL, pooled[j] = sum_t weights[t] s[t][j] for the readout. Each
 * value is computed as in scan_float, so the spikes are the same.
 */
static inline float bf16_to_float(uint16_t half)
{
    uint32_t bits = (uint32_t)half << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* A spike (0 or 1) as bfloat16 bits, 0x3F80 being 1.0: arithmetic, not a
 * branch, so that the loop vectorizes (random spikes defeat branch prediction). */
#define SPIKE_BF16(spiked) ((uint16_t)((spiked) * 0x3F80))

#define INFER_LOOP(CURRENT, OUTPUT)                                                      \
    for (Py_ssize_t t = 0; t < n_steps; t++) {                                           \
        for (Py_ssize_t row = 0; row < n / n_neurons; row++) {                           \
            for (Py_ssize_t k = 0; k < n_neurons; k++) {                                 \
                Py_ssize_t j = row * n_neurons + k;                                      \
                float current = (CURRENT);                                               \
                float value = current + decay * v[j];                                    \
                int spiked = value > threshold;                                          \
                float fired = (float)spiked;                                             \
                OUTPUT;                                                                  \
                v[j] = value - fired * drop;                                             \
            }                                                                            \
        }                                                                                \
    }

VECTOR_CLONES static void infer_scan(const float *restrict current_f32, Py_ssize_t current_stride,
                                     const uint16_t *restrict current_bf16,
                                     const float *restrict bias, Py_ssize_t n_neurons,
                                     uint16_t *restrict spikes_bf16, const float *restrict weights,
                                     float *restrict pooled, float *restrict v,
                                     Py_ssize_t n_steps, Py_ssize_t n, float decay,
                                     float threshold, float drop)
{
    for (Py_ssize_t j = 0; j < n; j++) v[j] = 0;
    if (pooled != NULL) {
        for (Py_ssize_t j = 0; j < n; j++) pooled[j] = 0;
        INFER_LOOP(bf16_to_float(current_bf16[t * n + j]) + bias[k],
                   pooled[j] += weights[t] * fired)
    } else if (current_bf16 != NULL) {
        INFER_LOOP(bf16_to_float(current_bf16[t * n + j]) + bias[k],
                   spikes_bf16[t * n + j] = SPIKE_BF16(spiked))
    } else {
        INFER_LOOP(current_f32[t * current_stride + j],
                   spikes_bf16[t * n + j] = SPIKE_BF16(spiked))
    }
}

/*
 * The backward pass in one reverse sweep: the surrogate derivative
 * sg(x), x = membrane - threshold, times the incoming spike gradient, plus
 * the decayed gradient of the next step, through the reset when reset_grad
 * (the amount the reset subtracts) is not 0:
 *
 *   g[t] = sg[t] * grad_spikes[t] + decay * (1 - reset_grad * sg[t]) * g[t+1]
 *
 * written to grad (n_steps, n), or with `summed` its sum over time to grad (n),
 * the gradient of a constant current. Surrogates (pynmsnn/surrogate.py):
 * 0 fast_sigmoid 1/(1+k|x|)^2, 1 atan (a/2)/(1+(pi a x/2)^2),
 * 2 triangle max(0, 1-|x|/w)/w, 3 sigmoid k s(kx)(1-s(kx)).
 */
/* One sweep over a step's neurons with surrogate SG(x); the branch on the
 * surrogate is taken once per step, so each inner loop stays vectorizable. */
#define BACKWARD_STEP(REAL, SG)                                                          \
    for (Py_ssize_t j = 0; j < n; j++) {                                                 \
        REAL x = m[j] - threshold;                                                       \
        REAL sg = (SG);                                                                  \
        REAL value = sg * gs[j] + decay * carry[j] * (one - reset_grad * sg);            \
        carry[j] = value;                                                                \
    }

#define DEFINE_BACKWARD(NAME, REAL, EXP)                                                 \
    VECTOR_CLONES static void NAME(const REAL *restrict membrane,                        \
                                   const REAL *restrict grad_spikes, REAL *restrict grad, \
                                   REAL *restrict carry, Py_ssize_t n_steps, Py_ssize_t n, \
                                   REAL decay, REAL threshold, int code, REAL slope,     \
                                   int summed, REAL reset_grad)                          \
    {                                                                                    \
        const REAL one = 1, half_pi = (REAL)1.5707963267948966;                          \
        for (Py_ssize_t j = 0; j < n; j++) carry[j] = 0;                                 \
        if (summed)                                                                      \
            for (Py_ssize_t j = 0; j < n; j++) grad[j] = 0;                              \
        for (Py_ssize_t t = n_steps - 1; t >= 0; t--) {                                  \
            const REAL *restrict m = membrane + t * n;                                   \
            const REAL *restrict gs = grad_spikes + t * n;                               \
            switch (code) {                                                              \
            case 0:                                                                      \
                BACKWARD_STEP(REAL, one / ((one + slope * (x < 0 ? -x : x)) *            \
                                           (one + slope * (x < 0 ? -x : x))))            \
                break;                                                                   \
            case 1:                                                                      \
                BACKWARD_STEP(REAL, slope / 2 / (one + (half_pi * slope * x) *           \
                                                       (half_pi * slope * x)))           \
                break;                                                                   \
            case 2:                                                                      \
                BACKWARD_STEP(REAL, ((one - (x < 0 ? -x : x) / slope) > 0                \
                                         ? (one - (x < 0 ? -x : x) / slope) : 0) / slope) \
                break;                                                                   \
            default:                                                                     \
                BACKWARD_STEP(REAL, slope / (one + EXP(-slope * x)) *                    \
                                        (one - one / (one + EXP(-slope * x))))           \
            }                                                                            \
            REAL *restrict out = summed ? grad : grad + t * n;                           \
            if (summed)                                                                  \
                for (Py_ssize_t j = 0; j < n; j++) out[j] += carry[j];                   \
            else                                                                         \
                memcpy(out, carry, (size_t)n * sizeof(REAL));                            \
        }                                                                                \
    }

#include <math.h>
DEFINE_BACKWARD(backward_float, float, expf)
DEFINE_BACKWARD(backward_double, double, exp)

/*
 * Three int8 digits of a float32 tensor, for the weight gradient of a layer
 * fed by spikes (pynmsnn/network.py): x = g * inv_scale lies in [-127, 127];
 *   q0 = rint(x),  r = 128 (x - q0),  q1 = rint(r),  q2 = rint(128 (r - q1))
 * so that g = (q0 + q1 / 128 + q2 / 128^2) / inv_scale to about 2^-21 of the
 * largest |g|. x - q0 and the products by 128 are exact in float32.
 */
VECTOR_CLONES static void split_digits(const float *restrict g, Py_ssize_t n, float inv_scale,
                                       int8_t *restrict q0, int8_t *restrict q1,
                                       int8_t *restrict q2)
{
    for (Py_ssize_t j = 0; j < n; j++) {
        float x = g[j] * inv_scale;
        float a = nearbyintf(x);
        float r = (x - a) * 128.0f;
        float b = nearbyintf(r);
        float c = nearbyintf((r - b) * 128.0f);
        q0[j] = (int8_t)a;
        q1[j] = (int8_t)b;
        q2[j] = (int8_t)c;
    }
}

static PyObject *int8_digits(PyObject *self, PyObject *args)
{
    unsigned long long g, q0, q1, q2;
    Py_ssize_t n;
    double inv_scale;
    if (!PyArg_ParseTuple(args, "KndKKK", &g, &n, &inv_scale, &q0, &q1, &q2))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    split_digits((const float *)(uintptr_t)g, n, (float)inv_scale, (int8_t *)(uintptr_t)q0,
                 (int8_t *)(uintptr_t)q1, (int8_t *)(uintptr_t)q2);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_forward(PyObject *self, PyObject *args)
{
    unsigned long long current, membrane, spikes, v;
    Py_ssize_t current_stride, membrane_stride, n_steps, n;
    double decay, threshold, drop;
    int is_double;
    if (!PyArg_ParseTuple(args, "KnKnKKnndddp", &current, &current_stride, &membrane,
                          &membrane_stride, &spikes, &v, &n_steps, &n, &decay, &threshold,
                          &drop, &is_double))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        scan_double((const double *)(uintptr_t)current, current_stride,
                    (double *)(uintptr_t)membrane, membrane_stride, (double *)(uintptr_t)spikes,
                    (double *)(uintptr_t)v, n_steps, n, decay, threshold, drop);
    else
        scan_float((const float *)(uintptr_t)current, current_stride,
                   (float *)(uintptr_t)membrane, membrane_stride, (float *)(uintptr_t)spikes,
                   (float *)(uintptr_t)v, n_steps, n, (float)decay, (float)threshold, (float)drop);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_infer(PyObject *self, PyObject *args)
{
    unsigned long long current_f32, current_bf16, bias, spikes_bf16, weights, pooled, v;
    Py_ssize_t current_stride, n_neurons, n_steps, n;
    double decay, threshold, drop;
    if (!PyArg_ParseTuple(args, "KnKKnKKKKnnddd", &current_f32, &current_stride, &current_bf16,
                          &bias, &n_neurons, &spikes_bf16, &weights, &pooled, &v, &n_steps, &n,
                          &decay, &threshold, &drop))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    infer_scan((const float *)(uintptr_t)current_f32, current_stride,
               (const uint16_t *)(uintptr_t)current_bf16, (const float *)(uintptr_t)bias,
               n_neurons, (uint16_t *)(uintptr_t)spikes_bf16, (const float *)(uintptr_t)weights,
               (float *)(uintptr_t)pooled, (float *)(uintptr_t)v, n_steps, n, (float)decay,
               (float)threshold, (float)drop);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_pooled(PyObject *self, PyObject *args)
{
    unsigned long long current, weights, pooled, v;
    Py_ssize_t current_stride, n_steps, n;
    double decay, threshold, drop;
    int is_double;
    if (!PyArg_ParseTuple(args, "KnKKKnndddp", &current, &current_stride, &weights, &pooled, &v,
                          &n_steps, &n, &decay, &threshold, &drop, &is_double))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        pooled_scan_double((const double *)(uintptr_t)current, current_stride,
                           (const double *)(uintptr_t)weights, (double *)(uintptr_t)pooled,
                           (double *)(uintptr_t)v, n_steps, n, decay, threshold, drop);
    else
        pooled_scan_float((const float *)(uintptr_t)current, current_stride,
                          (const float *)(uintptr_t)weights, (float *)(uintptr_t)pooled,
                          (float *)(uintptr_t)v, n_steps, n, (float)decay, (float)threshold,
                          (float)drop);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_backward(PyObject *self, PyObject *args)
{
    unsigned long long membrane, grad_spikes, grad, carry;
    Py_ssize_t n_steps, n;
    double decay, threshold, slope, reset_grad;
    int code, summed, is_double;
    if (!PyArg_ParseTuple(args, "KKKKnnddidppd", &membrane, &grad_spikes, &grad, &carry, &n_steps,
                          &n, &decay, &threshold, &code, &slope, &summed, &is_double, &reset_grad))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        backward_double((const double *)(uintptr_t)membrane, (const double *)(uintptr_t)grad_spikes,
                        (double *)(uintptr_t)grad, (double *)(uintptr_t)carry, n_steps, n, decay,
                        threshold, code, slope, summed, reset_grad);
    else
        backward_float((const float *)(uintptr_t)membrane, (const float *)(uintptr_t)grad_spikes,
                       (float *)(uintptr_t)grad, (float *)(uintptr_t)carry, n_steps, n, (float)decay,
                       (float)threshold, code, (float)slope, summed, (float)reset_grad);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"lif_backward", lif_backward, METH_VARARGS,
     "lif_backward(membrane, grad_spikes, grad, carry, n_steps, n, decay, threshold, code, "
     "slope, summed, is_double, reset_grad): the LIF backward sweep on raw pointers."},
    {"int8_digits", int8_digits, METH_VARARGS,
     "int8_digits(g, n, inv_scale, q0, q1, q2): three int8 digits of float32 g * inv_scale."},
    {"lif_infer", lif_infer, METH_VARARGS,
     "lif_infer(current_f32, current_stride, current_bf16, bias, n_neurons, spikes_bf16, "
     "weights, pooled, v, n_steps, n, decay, threshold, drop): the inference scan between "
     "bfloat16 matmuls (pointers that are 0 are unused)."},
    {"lif_pooled", lif_pooled, METH_VARARGS,
     "lif_pooled(current, current_stride, weights, pooled, v, n_steps, n, decay, threshold, "
     "drop, is_double): the LIF scan returning sum_t weights[t] * spikes[t]."},
    {"lif_forward", lif_forward, METH_VARARGS,
     "lif_forward(current, current_stride, membrane, membrane_stride, spikes, v, n_steps, n, "
     "decay, threshold, drop, is_double): the LIF forward scan on raw pointers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cscan(void) { return PyModule_Create(&module); }
