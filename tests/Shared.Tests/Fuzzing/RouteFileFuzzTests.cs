using System.Globalization;
using System.Text;
using CsCheck;
using Updraft.Shared.Routes;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.Shared.Tests.Fuzzing;

/// <summary>
/// The standalone routes file (<see cref="RouteFileParser"/>): whatever the file holds, the result is routes or
/// one-line problems, never an exception, in bounded time and memory (hostile shapes: deep nesting, alias bombs, huge
/// numbers, unicode, control characters, any field replaced by any value); routes written from a model come back as
/// the model's <see cref="RouteDefinition"/>s; host normalisation is idempotent.
/// </summary>
public sealed class RouteFileFuzzTests
{
    private const string Parser = "routes-yaml";

    [Fact]
    public void Parse_AnyFile_RoutesOrOneLineProblemsWithinBounds()
    {
        Corpus.Run(Parser, file => RoutesOrProblems(file.Text));
        var files = Gen.Frequency(
            (3, Hostile.Mutated(Corpus.Texts(Parser))),
            (3, RouteModels.Files.SelectMany(Spoil)),
            (1, Hostile.Text),
            (1, Shapes));
        Fuzz.Check(files, RoutesOrProblems, iterations: 600, print: Fuzz.Show);
    }

    [Fact]
    public void Parse_FileFromModel_IsTheModelsRoutes()
    {
        Fuzz.Check(RouteModels.Files, file =>
        {
            var yaml = file.Yaml();
            var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);
            if (!result.Succeeded)
            {
                throw new FuzzFailure("a valid file was refused: " + string.Join(" | ", result.Problems.Select(p => p.Format())) + "\n" + yaml);
            }

            var expected = file.Expected();
            var actual = result.Routes.Select(RouteModels.Describe).ToList();
            if (!expected.SequenceEqual(actual))
            {
                throw new FuzzFailure($"parsed\n  {string.Join("\n  ", actual)}\nexpected\n  {string.Join("\n  ", expected)}\nfrom\n{yaml}");
            }
        }, iterations: 400, print: file => file.Yaml());
    }

    [Fact]
    public void TryNormalizeRouteHost_AnyHost_NormalFormIsAFixedPoint()
    {
        var hosts = Gen.Frequency((3, RouteModels.Host.Select(h => h.Written)), (1, Hostile.Text), (1, Hostile.Mutated(["app.example.com", "*.example.com", "[::1]:80", "A.B.", "*"])));
        Fuzz.Check(hosts, host =>
        {
            if (HostNames.TryNormalizeRouteHost(host, out var normalized) is not null)
            {
                return;
            }

            var again = HostNames.TryNormalizeRouteHost(normalized, out var twice);
            if (again is not null || twice != normalized)
            {
                throw new FuzzFailure($"{Fuzz.Show(host)} normalises to {Fuzz.Show(normalized)}, which normalises to {Fuzz.Show(twice)} ({again ?? "no problem"})");
            }

            if (HostNames.ForMatching(normalized).ToString() != normalized && normalized != HostNames.CatchAll)
            {
                throw new FuzzFailure($"{Fuzz.Show(normalized)} (from {Fuzz.Show(host)}) is changed again by ForMatching, so requests for it compare a different name");
            }
        }, iterations: 3_000);
    }

    private static void RoutesOrProblems(string yaml)
    {
        var result = Fuzz.Bounded(() => RouteFileParser.Parse(yaml, RouteEnvironment.Standalone), maxBytes: 128_000_000 + (4_000L * yaml.Length), "Parse");
        if (result.Succeeded)
        {
            if (result.Problems.Count != 0)
            {
                throw new FuzzFailure("succeeded with problems");
            }

            return;
        }

        if (result.Routes.Count != 0)
        {
            throw new FuzzFailure("a file with problems yielded routes");
        }

        foreach (var problem in result.Problems)
        {
            Fuzz.AssertOneLine(problem.Format("routes.yaml"), "a routes file problem");
        }
    }

    /// <summary>A valid file with one value anywhere in it replaced by something hostile.</summary>
    private static Gen<string> Spoil(RouteModels.RoutesFile file)
    {
        var hostile = Gen.Frequency(
            (4, Hostile.Text.Select(text => (object?)text)),
            (2, Hostile.Text.Select(text => (object?)new YamlText.Raw(text))),
            (1, Gen.OneOf<object?>(null, true, -1, 0, long.MaxValue, double.MaxValue, 1e-300, new YamlText.Raw("99999999999999999999999999"), new YamlText.Raw("-0x1F"), new YamlText.Raw("1e400"))),
            (1, Gen.Int[1, 60].Select(depth => (object?)new YamlText.Raw(new string('[', depth) + new string(']', depth)))),
            (1, Gen.OneOf<object?>(new List<object?>(), new YamlMap(), new List<object?> { null }, new YamlMap { { "", null } }, new YamlMap { { "a", 1 }, { "a", 2 } })));
        return Gen.Select(Gen.Int[0, int.MaxValue], hostile, (slot, value) =>
        {
            var documents = file.Documents();
            var slots = new List<Action<object?>>();
            foreach (var document in documents)
            {
                Slots(document, slots);
            }

            slots[slot % slots.Count](value);
            return RouteModels.Join(documents);
        });
    }

    private static void Slots(object? node, List<Action<object?>> slots)
    {
        switch (node)
        {
            case YamlMap map:
                for (var i = 0; i < map.Count; i++)
                {
                    var index = i;
                    var key = map[i].Key;
                    slots.Add(value => map[index] = new KeyValuePair<string, object?>(key, value));
                    Slots(map[i].Value, slots);
                }

                break;
            case List<object?> list:
                for (var i = 0; i < list.Count; i++)
                {
                    var index = i;
                    slots.Add(value => list[index] = value);
                    Slots(list[i], slots);
                }

                break;
        }
    }

    /// <summary>Shapes that once took YAML loaders down: nesting, alias fan-out, long scalars, many documents, odd syntax.</summary>
    private static readonly Gen<string> Shapes = Gen.OneOf(
        Gen.Int[1, 20_000].Select(depth => new string('[', depth) + new string(']', depth)),
        Gen.Int[1, 5_000].Select(depth => string.Concat(Enumerable.Repeat("{a: ", depth)) + "1" + new string('}', depth)),
        Gen.Int[1, 200].Select(depth => string.Concat(Enumerable.Range(0, depth).Select(level => new string(' ', level) + "- \n"))),
        Gen.Select(Gen.Int[2, 12], Gen.Int[2, 12], (levels, fan) => AliasBomb(levels, fan)),
        Gen.Int[1, 3_000].Select(count => string.Concat(Enumerable.Repeat("---\n", count))),
        Gen.Int[1, 200_000].Select(length => "apiVersion: " + new string('9', length)),
        Gen.Select(Gen.Int[1, 50], Gen.Int[1, 50], (anchors, aliases) => AnchorSoup(anchors, aliases)),
        Gen.OneOf("&a [*a]", "&a {b: *a}", "*a", "a: &x 1\nb: *y", "? [a, b]\n: c", "!!binary ZZ", "%TAG ! tag:x,2000:\n--- !a b", "\ufeffkind: InterceptorRoute", "a: 'unterminated", "a: \"\\uD800\"", "{a: 1, a: 2}", "a:\n\t- b"));

    private static string AliasBomb(int levels, int fan)
    {
        var yaml = new StringBuilder("a0: &a0 [x]\n");
        for (var level = 1; level < levels; level++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"a{level}: &a{level} [{string.Join(",", Enumerable.Repeat($"*a{level - 1}", fan))}]\n");
        }

        return yaml.ToString();
    }

    private static string AnchorSoup(int anchors, int aliases)
    {
        var yaml = new StringBuilder("spec: {");
        for (var i = 0; i < anchors; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"k{i}: &n{i} [{(i > 0 ? $"*n{i - 1}, " : "")}{i}], ");
        }

        for (var i = 0; i < aliases; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"r{i}: *n{(i * 7) % anchors}, ");
        }

        return yaml.Append("z: 1}").ToString();
    }
}
