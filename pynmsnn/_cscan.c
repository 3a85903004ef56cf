/*
 * The LIF kernels in C: the neuron's forward scan and its backward sweep for
 * training, the inference scans, and event-driven inference of whole rows
 * (_event_kernel.h). pynmsnn/neurons.py states the same equations in torch
 * (lif_step, the reference); pynmsnn/_kernels.py is the only caller.
 *
 * The torch loop dispatches several small ops per time step; on a CPU each
 * dispatch costs microseconds, more than the arithmetic of a small layer.
 * Here a layer's whole scan is one call. Tensors arrive as raw pointers to
 * contiguous memory, checked by the caller:
 *
 *   current   (n_steps, n) or, with current_stride 0, one (n) constant current
 *   membrane  (n_steps, n) pre-reset membrane, or one (n) buffer when
 *             membrane_stride is 0 (inference keeps no history)
 *   spikes    (n_steps, n) output, 0 or 1
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <pthread.h>
#define HAVE_PTHREADS 1
#else
#define HAVE_PTHREADS 0 /* event-driven inference runs on the calling thread */
#endif

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/*
 * The neuron, stated once. A neuron model reaches C as one value, Neuron
 * (pynmsnn/_kernels.py builds it from pynmsnn.neurons.LIFParameters), and
 * every loop below and in _event_kernel.h steps it through these macros,
 * which work on scalars and on GCC vectors alike; pynmsnn.neurons.lif_step is
 * the plain torch reference that states the same equations:
 *
 *   value = current + decay * v                         leak, integrate
 *   spike = value > threshold                           fire
 *   v     = value * (1 - spike * forget) - spike * drop reset
 *
 * forget is 0 and drop threshold + refractory_penalty for reset='subtract';
 * forget is 1 and drop refractory_penalty for reset='zero' (after a spike the
 * membrane is -refractory_penalty). Either product with a spike is exact, so
 * the reset is exact whether or not the compiler fuses it.
 */
typedef struct {
    double decay, threshold, forget, drop;
    double reset_grad;  /* 1, or 0 with detach_reset: the reset is left out of the gradient */
    int surrogate;      /* pynmsnn.surrogate.C_SURROGATES */
    double surrogate_parameter;
} Neuron;

#define LIF_INTEGRATE(v, current, n) ((current) + (n).decay * (v))
#define LIF_FIRES(value, n) ((value) > (n).threshold)
#define LIF_RESET(value, spike, n) ((value) * (1 - (spike) * (n).forget) - (spike) * (n).drop)
/* d v_after_reset / d value, with sg the surrogate of d spike / d value. */
#define LIF_RESET_GRAD(value, spike, sg, n) \
    ((1 - (spike) * (n).forget) - (n).reset_grad * (sg) * ((n).forget * (value) + (n).drop))

/* The neuron in the precision of a loop. */
#define DEFINE_NEURON_IN(REAL)                                                             \
    typedef struct { REAL decay, threshold, forget, drop, reset_grad, parameter; } Neuron_##REAL; \
    static inline Neuron_##REAL neuron_##REAL(const Neuron *n)                             \
    {                                                                                    \
        Neuron_##REAL out = {(REAL)n->decay, (REAL)n->threshold, (REAL)n->forget,       \
                             (REAL)n->drop, (REAL)n->reset_grad, (REAL)n->surrogate_parameter}; \
        return out;                                                                      \
    }                                                                                    \
    /* One step of one neuron: returns the spike (0 or 1), leaves the pre-reset */       \
    /* membrane in *value and the membrane after the reset in *v. */                      \
    static inline __attribute__((always_inline)) REAL lif_step_##REAL(                   \
        REAL current, REAL *restrict v, REAL *restrict value, const Neuron_##REAL *n)    \
    {                                                                                    \
        *value = LIF_INTEGRATE(*v, current, *n);                                         \
        REAL spike = LIF_FIRES(*value, *n) ? (REAL)1 : (REAL)0;                          \
        *v = LIF_RESET(*value, spike, *n);                                               \
        return spike;                                                                    \
    }

DEFINE_NEURON_IN(float)
DEFINE_NEURON_IN(double)

/*
 * The scan over n_steps of n neurons, in rows of `width` (n is a multiple of
 * it), with v starting at 0. CURRENT is the input of neuron j = row * width + k
 * at step t; SINK stores what the caller wants of each step (value, the
 * pre-reset membrane, and spike). Every forward loop is this one with its own
 * source and sink.
 */
#define SCAN(REAL, n, width, CURRENT, SINK)                                              \
    {                                                                                    \
        const Neuron_##REAL p = neuron_##REAL(neuron);                                   \
        for (Py_ssize_t j = 0; j < n; j++) v[j] = 0;                                     \
        for (Py_ssize_t t = 0; t < n_steps; t++)                                         \
            for (Py_ssize_t row = 0; (width) > 0 && row < (n) / (width); row++)          \
                for (Py_ssize_t k = 0; k < (width); k++) {                               \
                    const Py_ssize_t j = row * (width) + k;                              \
                    REAL value;                                                          \
                    REAL spike = lif_step_##REAL((CURRENT), v + j, &value, &p);          \
                    SINK;                                                                \
                }                                                                        \
    }

/*
 * Training's forward: spikes (n_steps, n) and the pre-reset membranes, to
 * membrane (n_steps, n), or to one reused (n) buffer when membrane_stride is 0;
 * current_stride is n, or 0 for a constant current.
 */
#define DEFINE_SCAN(NAME, REAL)                                                          \
    VECTOR_CLONES static void NAME(const REAL *restrict current, Py_ssize_t current_stride, \
                                   REAL *restrict membrane, Py_ssize_t membrane_stride,  \
                                   REAL *restrict spikes, REAL *restrict v,              \
                                   Py_ssize_t n_steps, Py_ssize_t n, const Neuron *neuron) \
    SCAN(REAL, n, n, current[t * current_stride + j],                                     \
         (membrane[t * membrane_stride + j] = value, spikes[t * n + j] = spike))

DEFINE_SCAN(scan_float, float)
DEFINE_SCAN(scan_double, double)

/*
 * Inference through the last hidden layer: instead of the spikes, their
 * weighted sum over time, pooled[j] = sum_t w[t] s[t][j] (the readout's leak
 * weights), so the (n_steps, n) spikes are never written.
 */
#define DEFINE_POOLED_SCAN(NAME, REAL)                                                   \
    VECTOR_CLONES static void NAME(const REAL *restrict current, Py_ssize_t current_stride, \
                                   const REAL *restrict weights, REAL *restrict pooled,  \
                                   REAL *restrict v, Py_ssize_t n_steps, Py_ssize_t n,   \
                                   const Neuron *neuron)                                 \
    {                                                                                    \
        for (Py_ssize_t j = 0; j < n; j++) pooled[j] = 0;                                \
        SCAN(REAL, n, n, current[t * current_stride + j], (pooled[j] += weights[t] * spike)) \
    }

DEFINE_POOLED_SCAN(pooled_scan_float, float)
DEFINE_POOLED_SCAN(pooled_scan_double, double)

/*
 * Inference between bfloat16 matmuls (float32 only). The current is float32
 * (stride n, or 0 for a constant current), or a bfloat16 matmul product
 * (n_steps, n_rows, n_neurons) to which each neuron's float32 bias is added
 * after widening, as the torch path does. The result is the spikes as
 * bfloat16, ready for the next matmul, or, when pooled is not NULL,
 * pooled[j] = sum_t weights[t] s[t][j] for the readout.
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
#define SPIKE_BF16(spike) ((uint16_t)((spike) * 0x3F80))

VECTOR_CLONES static void infer_scan(const float *restrict current_f32, Py_ssize_t current_stride,
                                     const uint16_t *restrict current_bf16,
                                     const float *restrict bias, Py_ssize_t n_neurons,
                                     uint16_t *restrict spikes_bf16, const float *restrict weights,
                                     float *restrict pooled, float *restrict v,
                                     Py_ssize_t n_steps, Py_ssize_t n, const Neuron *neuron)
{
#define PRODUCT(t, j) (bf16_to_float(current_bf16[(t) * n + (j)]) + bias[k])
    if (pooled != NULL) {
        for (Py_ssize_t j = 0; j < n; j++) pooled[j] = 0;
        SCAN(float, n, n_neurons, PRODUCT(t, j), (pooled[j] += weights[t] * spike))
    } else if (current_bf16 != NULL) {
        SCAN(float, n, n_neurons, PRODUCT(t, j), (spikes_bf16[t * n + j] = SPIKE_BF16(spike)))
    } else {
        SCAN(float, n, n, current_f32[t * current_stride + j],
             (spikes_bf16[t * n + j] = SPIKE_BF16(spike)))
    }
#undef PRODUCT
}

/*
 * Event-driven inference: a row's whole forward pass, one row at a time.
 *
 * A layer fed by spikes receives, per step, the sum of the outgoing weights of
 * the neurons that fired. With 10-30% of them firing that is several times
 * fewer additions than the dense matmul has multiply-adds, and a row's
 * membranes stay in the cache from its first step to its last. Each row is
 * computed on its own, in a fixed order, so its output does not depend on the
 * other rows, their number or the number of threads.
 *
 *   x           (n_rows, n_inputs) float32, the scaled rows, the same current
 *               at every step (a constant-current encoder)
 *   weights[l]  (n_{l-1}, n_l) with n_{-1} = n_inputs: the transpose of hidden
 *               layer l's weight, so that a neuron's outgoing weights are
 *               contiguous; float32, or for l >= 1 with round_bf16 bfloat16;
 *               biases[l] (n_l) float32
 *   readout     (n_outputs, n_last) float32, the readout weight;
 *               readout_bias (n_outputs) is its bias times sum_t time_weights[t]
 *   out         (n_rows, n_outputs) = readout_bias + pooled @ readout, with
 *               pooled = sum_t time_weights[t] s_last[t], the time-averaged
 *               membrane of the leaky readout (pynmsnn/network.py)
 *
 * With spike_readout the readout is one more LIF layer fed by the last hidden
 * layer's spikes (readout transposed, (n_last, n_outputs), float32, and
 * readout_bias its plain bias), and out counts its spikes over the steps.
 *
 * With round_bf16 each product of layers 1 and up is rounded to bfloat16
 * before the bias is added, as the bfloat16 matmul of the dense path gives
 * it; the first layer, whose input is a current, stays float32. The numbers
 * are the dense path's but for the order in which float32 sums are added.
 *
 * The kernel (_event_kernel.h) is compiled once per instruction set with
 * vectors of its width (AVX-512, AVX2, and a portable one) and chosen when
 * called. It needs GCC's vector extension with __builtin_shufflevector (GCC 12,
 * clang); elsewhere lif_event_infer is not built and the dense path runs.
 */
#if defined(__GNUC__) && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector) && __has_builtin(__builtin_convertvector)
#define HAVE_EVENT_KERNEL 1
#endif
#endif
#ifndef HAVE_EVENT_KERNEL
#define HAVE_EVENT_KERNEL 0
#endif

#if HAVE_EVENT_KERNEL
typedef struct EventJob {
    const float *x;
    Py_ssize_t n_rows, n_inputs, n_steps, n_layers, n_outputs;
    const int64_t *sizes;
    const void *const *weights; /* float32, or bfloat16 (uint16) for l >= 1 with round_bf16 */
    const float *const *biases;
    const float *readout, *readout_bias, *time_weights;
    float *out;
    Neuron_float neuron;
    int round_bf16, spike_readout;
    void (*rows)(struct EventJob *); /* the kernel for this CPU */
    Py_ssize_t row_start, row_end;
    int failed;
} EventJob;

/* float32 rounded to the nearest bfloat16 (ties to even), kept as float32. */
static inline float round_to_bf16(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    bits += 0x7FFF + ((bits >> 16) & 1);
    bits &= 0xFFFF0000u;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* The indices of the neurons that fired (fired[j] is 0 or 1), to active;
 * returns their count. Eight spikes are read as one 64-bit word and only its
 * set bytes are visited, so the cost follows the spikes, not the neurons. */
static inline Py_ssize_t compact(const uint8_t *restrict fired, int32_t *restrict active,
                                 Py_ssize_t n)
{
    Py_ssize_t count = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t word;
        memcpy(&word, fired + j, sizeof word);
        while (word) {
            active[count++] = (int32_t)(j + __builtin_ctzll(word) / 8);
            word &= word - 1; /* each byte is 0 or 1: this clears one spike */
        }
    }
    for (; j < n; j++)
        if (fired[j]) active[count++] = (int32_t)j;
    return count;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* compact() with AVX-512: sixteen spikes become a mask and vpcompressd packs
 * the indices of its set lanes in a register, with no branch per spike. */
__attribute__((target("avx512f"))) static Py_ssize_t compact_avx512(
    const uint8_t *restrict fired, int32_t *restrict active, Py_ssize_t n)
{
    Py_ssize_t count = 0, j = 0;
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i sixteen = _mm512_set1_epi32(16);
    for (; j + 16 <= n; j += 16) {
        __m512i spikes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(fired + j)));
        __mmask16 mask = _mm512_test_epi32_mask(spikes, spikes);
        /* the whole register is stored: active has room for n + 16 entries */
        _mm512_storeu_si512(active + count, _mm512_maskz_compress_epi32(mask, index));
        count += __builtin_popcount(mask);
        index = _mm512_add_epi32(index, sixteen);
    }
    for (; j < n; j++)
        if (fired[j]) active[count++] = (int32_t)j;
    return count;
}

#define EK_NAME(name) name##_avx512
#define EK_TARGET __attribute__((target("avx512f")))
#define EK_LANES 16
#define EK_BLOCK 16
#define EK_COMPACT compact_avx512
#include "_event_kernel.h" /* it #undefs the EK_ parameters */

#define EK_NAME(name) name##_avx2
#define EK_TARGET __attribute__((target("avx2,fma")))
#define EK_LANES 8
#define EK_BLOCK 8
#define EK_COMPACT compact
#include "_event_kernel.h" /* it #undefs the EK_ parameters */
#endif /* __x86_64__ */

#define EK_NAME(name) name##_portable
#define EK_TARGET
#define EK_LANES 4
#define EK_BLOCK 8
#define EK_COMPACT compact
#include "_event_kernel.h" /* it #undefs the EK_ parameters */

/* The kernel for this CPU: 0 the widest it has, 1 at most AVX2, 2 the portable one. */
static void (*event_kernel(int widest_allowed))(EventJob *)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (widest_allowed <= 0 && __builtin_cpu_supports("avx512f"))
        return event_rows_avx512;
    if (widest_allowed <= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return event_rows_avx2;
#endif
    (void)widest_allowed;
    return event_rows_portable;
}

#define MAX_EVENT_THREADS 64

#if HAVE_PTHREADS
static void *event_rows_thread(void *job)
{
    ((EventJob *)job)->rows((EventJob *)job);
    return NULL;
}
#endif

/* The rows split into n_threads contiguous ranges, one thread each (this one
 * runs the first); a thread that cannot be started leaves its rows to this one. */
static int event_forward(const EventJob *shared, int n_threads)
{
    EventJob jobs[MAX_EVENT_THREADS];
    int started[MAX_EVENT_THREADS] = {0};
#if HAVE_PTHREADS
    pthread_t threads[MAX_EVENT_THREADS];
#endif
    if (n_threads > MAX_EVENT_THREADS) n_threads = MAX_EVENT_THREADS;
    if (n_threads > shared->n_rows) n_threads = (int)shared->n_rows;
    if (n_threads < 1) n_threads = 1;
    for (int i = 0; i < n_threads; i++) {
        jobs[i] = *shared;
        jobs[i].row_start = shared->n_rows * i / n_threads;
        jobs[i].row_end = shared->n_rows * (i + 1) / n_threads;
        jobs[i].failed = 0;
    }
#if HAVE_PTHREADS
    for (int i = 1; i < n_threads; i++)
        started[i] = pthread_create(&threads[i], NULL, event_rows_thread, &jobs[i]) == 0;
#endif
    jobs[0].rows(&jobs[0]);
    int failed = jobs[0].failed;
    for (int i = 1; i < n_threads; i++) {
#if HAVE_PTHREADS
        if (started[i])
            pthread_join(threads[i], NULL);
        else
#endif
            jobs[i].rows(&jobs[i]);
        failed |= jobs[i].failed;
    }
    return failed;
}
#endif /* HAVE_EVENT_KERNEL */

/*
 * The backward pass in one reverse sweep: the surrogate derivative sg of the
 * spike at x = membrane - threshold, times the incoming spike gradient, plus
 * the gradient of the next step carried back through the leak and the reset:
 *
 *   g[t] = sg[t] * grad_spikes[t] + decay * LIF_RESET_GRAD[t] * g[t+1]
 *
 * written to grad (n_steps, n), or with `summed` its sum over time to grad (n),
 * the gradient of a constant current. The surrogates are those of
 * pynmsnn/surrogate.py, by their C_SURROGATES code, with parameter a:
 * 0 fast_sigmoid 1/(1+a|x|)^2, 1 atan (a/2)/(1+(pi a x/2)^2),
 * 2 triangle max(0, 1-|x|/a)/a, 3 sigmoid a s(ax)(1-s(ax)).
 */
#define ABS(x) ((x) < 0 ? -(x) : (x))
#define SURROGATE_0(x, a) (one / ((one + (a) * ABS(x)) * (one + (a) * ABS(x))))
#define SURROGATE_1(x, a) ((a) / 2 / (one + (half_pi * (a) * (x)) * (half_pi * (a) * (x))))
#define SURROGATE_2(x, a) (((one - ABS(x) / (a)) > 0 ? (one - ABS(x) / (a)) : 0) / (a))
#define SURROGATE_3(x, a, EXP) ((a) / (one + EXP(-(a) * (x))) * (one - one / (one + EXP(-(a) * (x)))))

/* One sweep over a step's neurons with surrogate SG(x); the branch on the
 * surrogate is taken once per step, so each inner loop stays vectorizable. */
#define BACKWARD_STEP(REAL, SG)                                                          \
    for (Py_ssize_t j = 0; j < n; j++) {                                                 \
        const REAL value = m[j], x = value - p.threshold;                                \
        const REAL sg = (SG), spike = LIF_FIRES(value, p) ? one : 0;                      \
        carry[j] = sg * gs[j] + p.decay * carry[j] * LIF_RESET_GRAD(value, spike, sg, p); \
    }

#define DEFINE_BACKWARD(NAME, REAL, EXP)                                                 \
    VECTOR_CLONES static void NAME(const REAL *restrict membrane,                        \
                                   const REAL *restrict grad_spikes, REAL *restrict grad, \
                                   REAL *restrict carry, Py_ssize_t n_steps, Py_ssize_t n, \
                                   const Neuron *neuron, int summed)                     \
    {                                                                                    \
        const Neuron_##REAL p = neuron_##REAL(neuron);                                   \
        const REAL one = 1, half_pi = (REAL)1.5707963267948966, a = p.parameter;         \
        for (Py_ssize_t j = 0; j < n; j++) carry[j] = 0;                                 \
        if (summed)                                                                      \
            for (Py_ssize_t j = 0; j < n; j++) grad[j] = 0;                              \
        for (Py_ssize_t t = n_steps - 1; t >= 0; t--) {                                  \
            const REAL *restrict m = membrane + t * n;                                   \
            const REAL *restrict gs = grad_spikes + t * n;                               \
            switch (neuron->surrogate) {                                                 \
            case 0: BACKWARD_STEP(REAL, SURROGATE_0(x, a)) break;                        \
            case 1: BACKWARD_STEP(REAL, SURROGATE_1(x, a)) break;                        \
            case 2: BACKWARD_STEP(REAL, SURROGATE_2(x, a)) break;                        \
            default: BACKWARD_STEP(REAL, SURROGATE_3(x, a, EXP))                         \
            }                                                                            \
            REAL *restrict out = summed ? grad : grad + t * n;                           \
            if (summed)                                                                  \
                for (Py_ssize_t j = 0; j < n; j++) out[j] += carry[j];                   \
            else                                                                         \
                memcpy(out, carry, (size_t)n * sizeof(REAL));                            \
        }                                                                                \
    }

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

/*
 * The entry points. pynmsnn/_kernels.py is their only caller: it checks each
 * tensor's device, dtype, shape and layout and hands over raw pointers; here
 * the sizes and the neuron are checked again, so that a wrong call raises a
 * Python error instead of reading or writing out of bounds.
 */
#define POINTER(address) ((void *)(uintptr_t)(address))

static int fail(const char *function, const char *message)
{
    PyErr_Format(PyExc_ValueError, "_cscan.%s: %s", function, message);
    return 0;
}

/* The neuron from the tuple (decay, threshold, forget, drop, reset_grad,
 * surrogate, surrogate_parameter) that pynmsnn/_kernels.py builds. */
static int parse_neuron(const char *function, PyObject *tuple, Neuron *n)
{
    if (!PyArg_ParseTuple(tuple, "dddddid;a neuron is (decay, threshold, forget, drop, "
                                 "reset_grad, surrogate, surrogate_parameter)",
                          &n->decay, &n->threshold, &n->forget, &n->drop, &n->reset_grad,
                          &n->surrogate, &n->surrogate_parameter))
        return 0;
    if (!(isfinite(n->decay) && isfinite(n->threshold) && isfinite(n->drop) &&
          isfinite(n->surrogate_parameter)))
        return fail(function, "the neuron's decay, threshold, drop and surrogate parameter must be finite");
    if (n->forget != 0.0 && n->forget != 1.0)
        return fail(function, "the neuron's forget must be 0 (reset='subtract') or 1 (reset='zero')");
    if (n->surrogate < 0 || n->surrogate > 3 || n->surrogate_parameter <= 0.0)
        return fail(function, "unknown surrogate code, or a surrogate parameter <= 0");
    return 1;
}

/* Sizes are counts, and every pointer the call needs is set. */
static int check_sizes(const char *function, Py_ssize_t n_steps, Py_ssize_t n, int pointers_set)
{
    if (n_steps < 0 || n < 0)
        return fail(function, "n_steps and n must not be negative");
    if (!pointers_set)
        return fail(function, "a tensor it needs is missing (a null pointer)");
    return 1;
}

static PyObject *int8_digits(PyObject *self, PyObject *args)
{
    unsigned long long g, q0, q1, q2;
    Py_ssize_t n;
    double inv_scale;
    if (!PyArg_ParseTuple(args, "KndKKK", &g, &n, &inv_scale, &q0, &q1, &q2))
        return NULL;
    if (!check_sizes("int8_digits", 0, n, g && q0 && q1 && q2))
        return NULL;
    if (!(isfinite(inv_scale) && inv_scale > 0))
        return fail("int8_digits", "inv_scale must be finite and positive"), NULL;
    Py_BEGIN_ALLOW_THREADS
    split_digits(POINTER(g), n, (float)inv_scale, POINTER(q0), POINTER(q1), POINTER(q2));
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_forward(PyObject *self, PyObject *args)
{
    unsigned long long current, membrane, spikes, v;
    Py_ssize_t current_stride, membrane_stride, n_steps, n;
    PyObject *neuron_tuple;
    Neuron neuron;
    int is_double;
    if (!PyArg_ParseTuple(args, "KnKnKKnnO!p", &current, &current_stride, &membrane,
                          &membrane_stride, &spikes, &v, &n_steps, &n, &PyTuple_Type,
                          &neuron_tuple, &is_double))
        return NULL;
    if (!parse_neuron("lif_forward", neuron_tuple, &neuron) ||
        !check_sizes("lif_forward", n_steps, n, current && membrane && spikes && v))
        return NULL;
    if ((current_stride != 0 && current_stride != n) || (membrane_stride != 0 && membrane_stride != n))
        return fail("lif_forward", "a stride must be 0 or n"), NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        scan_double(POINTER(current), current_stride, POINTER(membrane), membrane_stride,
                    POINTER(spikes), POINTER(v), n_steps, n, &neuron);
    else
        scan_float(POINTER(current), current_stride, POINTER(membrane), membrane_stride,
                   POINTER(spikes), POINTER(v), n_steps, n, &neuron);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_infer(PyObject *self, PyObject *args)
{
    unsigned long long current_f32, current_bf16, bias, spikes_bf16, weights, pooled, v;
    Py_ssize_t current_stride, n_neurons, n_steps, n;
    PyObject *neuron_tuple;
    Neuron neuron;
    if (!PyArg_ParseTuple(args, "KnKKnKKKKnnO!", &current_f32, &current_stride, &current_bf16,
                          &bias, &n_neurons, &spikes_bf16, &weights, &pooled, &v, &n_steps, &n,
                          &PyTuple_Type, &neuron_tuple))
        return NULL;
    int has_input = current_bf16 ? bias != 0 : current_f32 != 0;
    int has_output = pooled ? weights != 0 : spikes_bf16 != 0;
    if (!parse_neuron("lif_infer", neuron_tuple, &neuron) ||
        !check_sizes("lif_infer", n_steps, n, has_input && has_output && v))
        return NULL;
    if (n_neurons <= 0 || n % n_neurons != 0)
        return fail("lif_infer", "n must be a positive multiple of n_neurons"), NULL;
    Py_BEGIN_ALLOW_THREADS
    infer_scan(POINTER(current_f32), current_stride, POINTER(current_bf16), POINTER(bias),
               n_neurons, POINTER(spikes_bf16), POINTER(weights), POINTER(pooled), POINTER(v),
               n_steps, n, &neuron);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lif_pooled(PyObject *self, PyObject *args)
{
    unsigned long long current, weights, pooled, v;
    Py_ssize_t current_stride, n_steps, n;
    PyObject *neuron_tuple;
    Neuron neuron;
    int is_double;
    if (!PyArg_ParseTuple(args, "KnKKKnnO!p", &current, &current_stride, &weights, &pooled, &v,
                          &n_steps, &n, &PyTuple_Type, &neuron_tuple, &is_double))
        return NULL;
    if (!parse_neuron("lif_pooled", neuron_tuple, &neuron) ||
        !check_sizes("lif_pooled", n_steps, n, current && weights && pooled && v))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        pooled_scan_double(POINTER(current), current_stride, POINTER(weights), POINTER(pooled),
                           POINTER(v), n_steps, n, &neuron);
    else
        pooled_scan_float(POINTER(current), current_stride, POINTER(weights), POINTER(pooled),
                          POINTER(v), n_steps, n, &neuron);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

#if HAVE_EVENT_KERNEL
static PyObject *lif_event_infer(PyObject *self, PyObject *args)
{
    unsigned long long x, sizes, weights, biases, readout, readout_bias, time_weights, out;
    Py_ssize_t n_rows, n_inputs, n_steps, n_layers, n_outputs;
    PyObject *neuron_tuple;
    Neuron neuron;
    int round_bf16, spike_readout, n_threads, widest_allowed = 0;
    if (!PyArg_ParseTuple(args, "KnnnnKKKKKnKKO!ppi|i", &x, &n_rows, &n_inputs, &n_steps,
                          &n_layers, &sizes, &weights, &biases, &readout, &readout_bias,
                          &n_outputs, &time_weights, &out, &PyTuple_Type, &neuron_tuple,
                          &round_bf16, &spike_readout, &n_threads, &widest_allowed))
        return NULL;
    if (!parse_neuron("lif_event_infer", neuron_tuple, &neuron) ||
        !check_sizes("lif_event_infer", n_steps, n_rows,
                     x && sizes && weights && biases && readout && readout_bias && time_weights && out))
        return NULL;
    if (n_layers < 1 || n_inputs < 1 || n_outputs < 1)
        return fail("lif_event_infer", "needs at least one hidden layer, input and output"), NULL;
    const int64_t *widths = POINTER(sizes);
    for (Py_ssize_t l = 0; l < n_layers; l++)
        if (widths[l] < 1)
            return fail("lif_event_infer", "every hidden layer needs at least one neuron"), NULL;
    EventJob job = {
        .x = POINTER(x), .n_rows = n_rows, .n_inputs = n_inputs,
        .n_steps = n_steps, .n_layers = n_layers, .n_outputs = n_outputs,
        .sizes = widths, .weights = POINTER(weights), .biases = POINTER(biases),
        .readout = POINTER(readout), .readout_bias = POINTER(readout_bias),
        .time_weights = POINTER(time_weights), .out = POINTER(out),
        .neuron = neuron_float(&neuron),
        .round_bf16 = round_bf16, .spike_readout = spike_readout,
        .rows = event_kernel(widest_allowed),
    };
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = event_forward(&job, n_threads);
    Py_END_ALLOW_THREADS
    if (failed)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}
#endif

static PyObject *lif_backward(PyObject *self, PyObject *args)
{
    unsigned long long membrane, grad_spikes, grad, carry;
    Py_ssize_t n_steps, n;
    PyObject *neuron_tuple;
    Neuron neuron;
    int summed, is_double;
    if (!PyArg_ParseTuple(args, "KKKKnnO!pp", &membrane, &grad_spikes, &grad, &carry, &n_steps,
                          &n, &PyTuple_Type, &neuron_tuple, &summed, &is_double))
        return NULL;
    if (!parse_neuron("lif_backward", neuron_tuple, &neuron) ||
        !check_sizes("lif_backward", n_steps, n, membrane && grad_spikes && grad && carry))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        backward_double(POINTER(membrane), POINTER(grad_spikes), POINTER(grad), POINTER(carry),
                        n_steps, n, &neuron, summed);
    else
        backward_float(POINTER(membrane), POINTER(grad_spikes), POINTER(grad), POINTER(carry),
                       n_steps, n, &neuron, summed);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
#if HAVE_EVENT_KERNEL
    {"lif_event_infer", lif_event_infer, METH_VARARGS,
     "lif_event_infer(x, n_rows, n_inputs, n_steps, n_layers, sizes, weights, biases, readout, "
     "readout_bias, n_outputs, time_weights, out, neuron, round_bf16, spike_readout, n_threads, "
     "widest_allowed=0): event-driven inference of whole rows, to the time-averaged readout or "
     "the readout's spike counts; widest_allowed 1 stops at AVX2, 2 runs the portable kernel."},
#endif
    {"lif_backward", lif_backward, METH_VARARGS,
     "lif_backward(membrane, grad_spikes, grad, carry, n_steps, n, neuron, summed, is_double): "
     "the LIF backward sweep on raw pointers."},
    {"int8_digits", int8_digits, METH_VARARGS,
     "int8_digits(g, n, inv_scale, q0, q1, q2): three int8 digits of float32 g * inv_scale."},
    {"lif_infer", lif_infer, METH_VARARGS,
     "lif_infer(current_f32, current_stride, current_bf16, bias, n_neurons, spikes_bf16, "
     "weights, pooled, v, n_steps, n, neuron): the inference scan between bfloat16 matmuls "
     "(pointers that are 0 are unused)."},
    {"lif_pooled", lif_pooled, METH_VARARGS,
     "lif_pooled(current, current_stride, weights, pooled, v, n_steps, n, neuron, is_double): "
     "the LIF scan returning sum_t weights[t] * spikes[t]."},
    {"lif_forward", lif_forward, METH_VARARGS,
     "lif_forward(current, current_stride, membrane, membrane_stride, spikes, v, n_steps, n, "
     "neuron, is_double): the LIF forward scan on raw pointers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cscan(void) { return PyModule_Create(&module); }
