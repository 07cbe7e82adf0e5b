import unittest

from app.pricing import discount, net_price


class PricingTest(unittest.TestCase):
    def test_net_price(self):
        self.assertEqual(net_price(121.0, 21), 100.0)

    def test_negative_vat(self):
        with self.assertRaises(ValueError):
            net_price(10.0, -1)

    def test_discount(self):
        self.assertEqual(discount(80.0, 25), 60.0)

    def test_discount_bounds(self):
        with self.assertRaises(ValueError):
            discount(10.0, 120)


if __name__ == "__main__":
    unittest.main()
