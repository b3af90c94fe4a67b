using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;

namespace WorktreeTools.Tests
{
    /// <summary>
    /// Counts the pixels of one colour in a PNG file (8-bit RGB or RGBA, not interlaced).
    /// </summary>
    public static class PngPixels
    {
        public static int Count(string path, string colour)
        {
            var r = Convert.ToInt32(colour.Substring(1, 2), 16);
            var g = Convert.ToInt32(colour.Substring(3, 2), 16);
            var b = Convert.ToInt32(colour.Substring(5, 2), 16);
            var (width, height, channels, rows) = Decode(File.ReadAllBytes(path));
            var count = 0;
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    var p = y * width * channels + x * channels;
                    if (rows[p] == r && rows[p + 1] == g && rows[p + 2] == b)
                    {
                        count++;
                    }
                }
            }
            return count;
        }

        private static (int, int, int, byte[]) Decode(byte[] png)
        {
            int width = 0, height = 0, channels = 0;
            var data = new MemoryStream();
            for (var at = 8; at < png.Length;)
            {
                var length = BigEndian(png, at);
                var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
                if (type == "IHDR")
                {
                    width = BigEndian(png, at + 8);
                    height = BigEndian(png, at + 12);
                    if (png[at + 16] != 8 || png[at + 20] != 0)
                    {
                        throw new NotSupportedException("only 8-bit, non-interlaced PNG files");
                    }
                    channels = png[at + 17] switch
                    {
                        2 => 3,
                        6 => 4,
                        _ => throw new NotSupportedException("only RGB and RGBA PNG files"),
                    };
                }
                else if (type == "IDAT")
                {
                    data.Write(png, at + 8, length);
                }
                at += 12 + length;
            }

            data.Position = 0;
            var raw = new MemoryStream();
            using (var inflate = new ZLibStream(data, CompressionMode.Decompress))
            {
                inflate.CopyTo(raw);
            }
            var bytes = raw.ToArray();
            var stride = width * channels;
            var pixels = new byte[stride * height];
            for (var y = 0; y < height; y++)
            {
                var filter = bytes[y * (stride + 1)];
                for (var i = 0; i < stride; i++)
                {
                    var value = bytes[y * (stride + 1) + 1 + i];
                    int left = i >= channels ? pixels[y * stride + i - channels] : 0;
                    int up = y > 0 ? pixels[(y - 1) * stride + i] : 0;
                    int corner = y > 0 && i >= channels
                        ? pixels[(y - 1) * stride + i - channels]
                        : 0;
                    var predicted = filter switch
                    {
                        0 => 0,
                        1 => left,
                        2 => up,
                        3 => (left + up) / 2,
                        4 => Paeth(left, up, corner),
                        _ => throw new InvalidDataException($"unknown PNG filter {filter}"),
                    };
                    pixels[y * stride + i] = (byte)(value + predicted);
                }
            }
            return (width, height, channels, pixels);
        }

        private static int Paeth(int a, int b, int c)
        {
            var p = a + b - c;
            int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
            return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }

        private static int BigEndian(byte[] bytes, int at) =>
            (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    }
}
